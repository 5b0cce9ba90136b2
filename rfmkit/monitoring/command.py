"""`python -m rfmkit monitor`: one check, or one every `--every` until stopped."""

from __future__ import annotations

import argparse
import sys
import time

from rfmkit.monitoring.drift import DriftError
from rfmkit.monitoring.monitor import MonitorSettings, parse_period, settings

ALARM_EXIT = 3


def settings_from(args: argparse.Namespace) -> MonitorSettings:
    return settings(window_rows=args.window_rows, window=args.window, min_rows=args.min_rows,
                    alpha=args.alpha, numeric_distance=args.numeric_distance,
                    categorical_distance=args.categorical_distance,
                    min_labelled=args.min_labelled, min_auc=args.min_auc)


def run_monitor(args: argparse.Namespace, argv: list[str]) -> int:
    from rfmkit import backends
    from rfmkit.churn.registry import PRODUCTION
    from rfmkit.monitoring.checks import Sources, check
    from rfmkit.serving.capture import CaptureError
    from rfmkit.serving.deploy import stage_endpoints

    if not args.run_dir.is_dir():
        if not args.current:  # captured requests live in a run folder: it must be there
            print(f"error: --run-dir {args.run_dir}: no such run folder", file=sys.stderr)
            return 2
        args.run_dir.mkdir(parents=True)  # a file of rows: the folder only receives the reports
    try:
        settings = settings_from(args)
    except (DriftError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kit = backends.for_run(args.backend, run_dir=args.run_dir)
    monitoring = kit.monitoring()
    model_name = f"rfmkit-churn-{args.churn_data}"
    endpoints = stage_endpoints(model_name)
    endpoint = args.endpoint or endpoints[PRODUCTION]
    sources = Sources(kit.cfg.run_dir, capture=args.capture or monitoring.capture_uri,
                      ground_truth=args.ground_truth or monitoring.ground_truth_uri,
                      reference=args.reference or "", current=args.current or "",
                      model=args.model or "", churn_data=args.churn_data,
                      label_column=args.label_column, since=args.since)
    retrain = _retrainer(kit, monitoring, args, model_name, endpoints) if args.retrain else None
    if args.every:
        try:
            parse_period(args.every)
        except DriftError as exc:
            print(f"error: --{exc}", file=sys.stderr)
            return 2
        print(monitoring.schedule_hint(args.every, _without_every(argv)))
    try:
        while True:
            try:
                result = check(sources, endpoint, settings, on_alarm=retrain)
            except (DriftError, CaptureError, FileNotFoundError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:  # Ctrl-C in the middle of a check: the next one redoes it
                print("stopped during a check", file=sys.stderr)
                return 130
            _print(result)
            if not args.every:
                return ALARM_EXIT if args.fail_on_alarm and result.alarms else 0
            # Until the next check. A SIGTERM (systemd, docker stop) ends the process here at once:
            # checks are idempotent, so the next start picks up where this one stopped.
            time.sleep(parse_period(args.every).total_seconds())
    except KeyboardInterrupt:  # Ctrl-C between checks: a clean stop
        return 0


def _retrainer(kit, monitoring, args, model_name: str, endpoints: dict[str, str]):
    from rfmkit.churn.registry import CANDIDATE

    return monitoring.retrainer(kit.registry(model_name), endpoints[CANDIDATE],
                                churn_data=args.churn_data, min_auc=args.min_auc)


def _print(result) -> None:
    print(result)
    if not result.windows.empty:
        shown = result.windows[["window", "rows", "judged", "alarm", "drifted", "roc_auc", "note"]].copy()
        shown["drifted"] = shown["drifted"].map(_few)
        print(shown.to_string(index=False, na_rep=""))
    ours = result.actions[result.actions["window"].isin(result.windows.get("window", []))] \
        if not result.actions.empty else result.actions
    if not ours.empty:
        print("actions:")
        for entry in ours.tail(8).itertuples(index=False):
            print(f"  {entry.time} {entry.window} {entry.step}: {entry.outcome}")
    sys.stdout.flush()


def _few(columns: str, shown: int = 4) -> str:
    """The first few drifted columns (the report has them all)."""
    names = [c for c in columns.split(", ") if c]
    return ", ".join(names[:shown]) + (f" … (+{len(names) - shown})" if len(names) > shown else "")


def _without_every(argv: list[str]) -> list[str]:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == "--every":
            skip = True
            continue
        if not item.startswith("--every="):
            out.append(item)
    return out
