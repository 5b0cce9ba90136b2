"""Notebook 99: remove what the workshop created. Every step tolerates what is already gone, so
running it twice is safe; the result is one row per thing looked at, saying what happened.

local: the endpoints of local servers recorded in the run folder are removed over HTTP (the
servers live in notebook kernels, which this process must not kill); the run folder stays unless
asked. aws: SageMaker endpoints, endpoint configs and models named `<prefix>-…`, the QuickSight
assets of notebook 07, then (when asked) the workshop stack, after emptying its versioned bucket.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request

import pandas as pd

from rfmkit.config import ConfigError, RunConfig


class Outcomes(list):
    """(what, outcome) rows, shown as a table."""

    def add(self, what: str, outcome: str, progress=None) -> None:
        self.append((what, outcome))
        if progress:
            progress(f"{what}: {outcome}")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self, columns=["what", "outcome"])


# -- local ----------------------------------------------------------------------------------------
def local(cfg: RunConfig, *, remove_run_folder: bool = False, progress=print) -> Outcomes:
    from rfmkit.serving.operations import SERVER_RECORDS

    done = Outcomes()
    for record in sorted(cfg.run_dir.glob(SERVER_RECORDS)):
        server = json.loads(record.read_text())
        try:
            endpoints = json.loads(_http("GET", f"{server['url']}/endpoints"))
        except (urllib.error.URLError, ConnectionError):
            done.add(f"local server {server['url']}", "already stopped", progress)
            record.unlink()
            continue
        for endpoint in endpoints:
            try:
                _http("DELETE", f"{server['url']}/endpoints/{endpoint['name']}",
                      {"x-rfmkit-admin": server["token"]})
                done.add(f"endpoint {endpoint['name']}", "removed", progress)
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                done.add(f"endpoint {endpoint['name']}", "already gone", progress)
        record.unlink()
        done.add(f"local server {server['url']} (process {server['pid']})",
                 "serves nothing now; it ends with its notebook kernel", progress)
    from rfmkit.contact_center.local import RECORDS, stop_process

    for record in sorted(cfg.run_dir.glob(RECORDS)):  # notebook 09's API, in its own process
        server = json.loads(record.read_text())
        stopped = stop_process(int(server["pid"])) if server.get("pid") != os.getpid() else False
        record.unlink(missing_ok=True)
        done.add(f"contact-center API {server['url']} (process {server['pid']})",
                 "stopped" if stopped else "already stopped", progress)
    from rfmkit.streaming.local_server import stop_recorded

    for url in stop_recorded(cfg.run_dir):  # notebook 10's Kinesis-API server
        done.add(f"local Kinesis server {url}", "stopped", progress)
    if not done:
        done.add("local endpoints", "none running", progress)
    if remove_run_folder:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
        done.add(f"run folder {cfg.run_dir}", "deleted", progress)
    else:
        done.add(f"run folder {cfg.run_dir}", "kept (remove_run_folder=True deletes it)", progress)
    return done


def _http(method: str, url: str, headers: dict | None = None) -> str:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback URL from our record
        return answer.read().decode()


# -- aws ------------------------------------------------------------------------------------------
def aws(cfg: RunConfig, *, quicksight: bool = True, delete_stack: bool = False, boto_session=None,
        poll_seconds: float = 10.0, progress=print) -> Outcomes:
    if boto_session is None:
        import boto3

        boto_session = boto3.Session(region_name=cfg.aws.region)
    if delete_stack and not cfg.aws.stack_name:  # before anything is deleted
        raise ConfigError("delete_stack=True needs the stack name (parameter stack_name, or notebook 00)")
    prefix = cfg.aws.prefix or "rfmkit"
    done = Outcomes()
    sagemaker_resources(boto_session.client("sagemaker"), prefix, done, progress)
    from rfmkit.contact_center import aws as contact_center

    contact_center.delete(cfg, boto_session, done, progress, poll_seconds=poll_seconds)
    from rfmkit.monitoring import aws as monitoring

    monitoring.delete_resources(cfg, boto_session, done, progress)
    if quicksight:
        quicksight_assets(boto_session, prefix, done, progress)
    if delete_stack:
        from rfmkit import cloudformation

        if cfg.aws.bucket:
            from rfmkit.storage import S3Storage

            removed = S3Storage.from_session(boto_session, cfg.aws.bucket).empty_bucket()
            done.add(f"bucket {cfg.aws.bucket}", f"emptied ({removed:,} object versions)" if removed
                     else "already empty or gone", progress)
        deleted = cloudformation.delete(cfg.aws.stack_name, client=boto_session.client("cloudformation"),
                                        poll_seconds=poll_seconds, progress=progress)
        done.add(f"stack {cfg.aws.stack_name}", "deleted" if deleted else "already gone", progress)
    else:
        done.add(f"stack {cfg.aws.stack_name or '(none)'}", "kept (delete_stack=True deletes it)", progress)
    return done


def sagemaker_resources(client, prefix: str, done: Outcomes, progress=print) -> None:
    """Endpoints first (they hold configs), then endpoint configs, then models."""
    from botocore.exceptions import ClientError

    kinds = (("endpoint", "list_endpoints", "Endpoints", "EndpointName", client.delete_endpoint),
             ("endpoint config", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName",
              client.delete_endpoint_config),
             ("model", "list_models", "Models", "ModelName", client.delete_model))
    for kind, listing, key, field, delete in kinds:
        names = [item[field] for page in client.get_paginator(listing).paginate(NameContains=prefix)
                 for item in page[key] if item[field].startswith(f"{prefix}-")]
        if not names:
            done.add(f"SageMaker {kind}s {prefix}-*", "none found", progress)
        for name in names:
            try:
                delete(**{field: name})
                done.add(f"SageMaker {kind} {name}", "deleted", progress)
            except ClientError as error:
                if "Could not find" not in str(error):
                    raise
                done.add(f"SageMaker {kind} {name}", "already gone", progress)


def quicksight_assets(boto_session, prefix: str, done: Outcomes, progress=print) -> None:
    from rfmkit.manifests import EXPORTED_TABLES
    from rfmkit.quicksight import QuickSightPublisher

    account = boto_session.client("sts").get_caller_identity()["Account"]
    publisher = QuickSightPublisher(boto_session.client("quicksight"), account, "", prefix=prefix,
                                    progress=lambda _: None)
    deleted = publisher.delete(EXPORTED_TABLES)
    for item in deleted:
        done.add(f"QuickSight {item}", "deleted", progress)
    if not deleted:
        done.add(f"QuickSight assets {prefix}-*", "none found", progress)
