"""Monitoring on the local backend: capture and ground truth in the run folder, checks run by
`python -m rfmkit monitor` (by hand, with --every, or from cron), and a retrained candidate staged
on the run's local endpoint, whether it runs in this process or in another one."""

from __future__ import annotations

import json
import shlex
import sys
import urllib.request
from pathlib import Path

from rfmkit.monitoring.ground_truth import GROUND_TRUTH_FOLDER
from rfmkit.serving.capture import CAPTURE_FOLDER

CRON_STEPS = {"h": "hour", "d": "day"}


class LocalMonitoring:
    def __init__(self, run_dir: Path, backend=None):
        self.run_dir, self.backend = Path(run_dir), backend
        self.capture_uri = str(self.run_dir / CAPTURE_FOLDER)
        self.ground_truth_uri = str(self.run_dir / GROUND_TRUTH_FOLDER)

    def describe(self) -> dict[str, str]:
        return {"capture": self.capture_uri, "ground truth": self.ground_truth_uri,
                "reports": str(self.run_dir / "monitoring" / "reports" / "index.html")}

    def stager(self, registry, endpoint: str, serving=None):
        """How a registered candidate reaches the staging endpoint: through the deployer when the
        server runs in this process, else through the running server's admin API (its record in
        the run folder holds the address and the token), else not at all (None)."""
        if serving is not None:
            from rfmkit.serving.deploy import LocalDeployer, stage_endpoints

            deployer = LocalDeployer(serving, registry, stage_endpoints(registry.name))
            return lambda registered: f"staging serves {deployer.sync()[endpoint]}"
        record = _running_server(self.run_dir)
        if record is None:
            return None

        def stage(registered) -> str:
            model = registry.download(registered.version, self.run_dir / "models" / "staged"
                                      / f"{registry.name}-{registered.version}")
            request = urllib.request.Request(
                f"{record['url']}/endpoints/{endpoint}", method="PUT",
                data=json.dumps({"model": str(model)}).encode(),
                headers={"x-rfmkit-admin": record["token"], "content-type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback
                answer.read()
            return f"staging ({endpoint} on {record['url']}) serves version {registered.version}"

        return stage

    def retrainer(self, registry, endpoint: str, *, churn_data: str, min_auc: float, seed: int = 42,
                  serving=None, tracking_uri: str = ""):
        """On an alarm: retrain in this process (notebook 04's code, production's own settings
        refitted on the new rows), register through the gate, stage on `endpoint`."""
        from rfmkit.monitoring.actions import Retrainer

        return Retrainer(self.backend, churn_data=churn_data, min_auc=min_auc, seed=seed,
                         tracking_uri=tracking_uri, stage=self.stager(registry, endpoint, serving),
                         registry=registry)

    def metrics_text(self, serving) -> str:
        """The local endpoint's Prometheus metrics (what Prometheus scrapes from /metrics)."""
        with urllib.request.urlopen(f"{serving.url}/metrics", timeout=10) as answer:  # noqa: S310
            return answer.read().decode()

    def schedule(self, every: str, arguments: list[str]) -> str:
        """The crontab line that runs the same check every `every` (cron is the user's to edit:
        the kit prints the line rather than changing a crontab)."""
        return f"{cron_expression(every)} cd {shlex.quote(str(Path.cwd()))} && " \
               f"{shlex.quote(sys.executable)} -m rfmkit monitor " + \
               " ".join(shlex.quote(a) for a in arguments) + \
               f" >> {shlex.quote(str(self.run_dir / 'monitoring' / 'cron.log'))} 2>&1"

    def schedule_hint(self, every: str, arguments: list[str]) -> str:
        try:
            return f"checking every {every}; the same from cron:\n  {self.schedule(every, arguments)}"
        except ValueError as exc:
            return f"checking every {every} ({exc})"

    def unschedule(self) -> str:
        return "remove the rfmkit monitor line from your crontab (crontab -e)"


def cron_expression(every: str) -> str:
    """'3h' → '0 */3 * * *', '30min' → '*/30 * * * *', '1d' → '0 0 * * *'."""
    from rfmkit.monitoring.monitor import parse_period

    minutes = int(parse_period(every).total_seconds() // 60)
    if minutes <= 0:
        raise ValueError(f"--every {every}: a period of at least one minute")
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes % 60 == 0 and minutes < 24 * 60 and (24 * 60) % minutes == 0:
        return f"0 */{minutes // 60} * * *"
    if minutes == 24 * 60:
        return "0 0 * * *"
    raise ValueError(f"--every {every}: cron needs a period that divides an hour or a day "
                     f"(15min, 30min, 1h, 3h, 6h, 1d)")


def _running_server(run_dir: Path) -> dict | None:
    import urllib.error

    from rfmkit.serving.operations import SERVER_RECORDS

    for path in sorted(run_dir.glob(SERVER_RECORDS)):
        try:
            record = json.loads(path.read_text())
            with urllib.request.urlopen(f"{record['url']}/ping", timeout=2):  # noqa: S310 - loopback
                return record
        except urllib.error.HTTPError:  # it answered (503: nothing served yet): it runs
            return record
        except (OSError, ValueError, KeyError):
            continue
    return None
