"""Command line: `python -m rfmkit run|generate|params|serve|dashboard|alerts`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any


def _parse_param(text: str) -> tuple[str, Any]:
    from rfmkit.parameters import ParameterError, parse_value

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"-p {text!r}: expected key=value")
    key, value = text.split("=", 1)
    if not key.isidentifier():
        raise argparse.ArgumentTypeError(f"-p {text!r}: {key!r} is not a parameter name")
    try:
        return key, parse_value(key, value)
    except ParameterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rfmkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the numbered notebooks with papermill")
    run.add_argument("--backend", choices=["local", "aws"], default="local")
    run.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                     metavar="KEY=VALUE", help="notebook parameter (repeatable)")
    run.add_argument("--params", type=Path, help="YAML file of parameters")
    run.add_argument("--only", help="comma-separated notebooks to run (numbers or names)")
    run.add_argument("--from", dest="start_from", help="start at this notebook")
    run.add_argument("--run-dir", type=Path, help="run folder (default: runs/<timestamp>)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="per-cell progress bars (default: on a terminal; elsewhere one line per cell)")
    run.add_argument("--dry-run", action="store_true",
                     default=os.environ.get("RFMKIT_DRY_RUN", "") not in ("", "0"),
                     help="check notebooks, parameters, paths and the backend, print the plan, run "
                          "nothing (also $RFMKIT_DRY_RUN=1)")
    run.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                     help="in the folder of an interrupted or failed run, keep the notebooks that "
                          "finished (default); --no-resume runs them all again")

    gen = sub.add_parser("generate", help="write synthetic Olist CSVs")
    gen.add_argument("--scale", type=float, default=1.0, help="1.0 = about 99,500 orders (the real data has 99,441)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, default=Path("data/synthetic"))

    sub.add_parser("params", help="list each notebook's parameters and defaults")

    serve = sub.add_parser("serve", help="serve models on a local SageMaker-compatible endpoint")
    serve.add_argument("--model", action="append", type=_parse_endpoint, required=True,
                       metavar="NAME=PATH", help="endpoint name and model.tar.gz or folder (repeatable)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--capture-dir", type=Path,
                       help="capture invocations here in SageMaker's data-capture format (e.g. "
                            "runs/latest/capture, which `rfmkit monitor` reads); default: none")
    serve.add_argument("--capture-percent", type=float, default=100.0,
                       help="share of invocations captured (default 100)")
    dash = sub.add_parser("dashboard", help="write the offline HTML dashboard for a run's exports")
    dash.add_argument("--run-dir", type=Path, help="run folder (default: runs/workshop, else the newest run)")
    dash.add_argument("--out", type=Path, help="HTML file to write (default: <run>/dashboard.html)")
    dash.add_argument("--open", action="store_true", help="open it in the default browser")
    alerts = sub.add_parser("alerts", help="list the customers who need contacting now; "
                                           "--send mails the list (for cron)")
    alerts.add_argument("--run-dir", type=Path, required=True,
                        help="run folder whose warehouse has customer_value (notebook 05)")
    alerts.add_argument("--backend", choices=["local", "aws"], default="local")
    alerts.add_argument("--send", action="store_true",
                        help="send the messages and record them (default: write them only)")
    alerts.add_argument("-p", "--param", action="append", type=_parse_param, default=[],
                        metavar="KEY=VALUE", help="alert setting, e.g. -p cooldown_days=7 "
                        "-p 'recipients={\"alert\": [\"crm@example.com\"]}' (repeatable)")
    alerts.add_argument("--smtp", metavar="HOST:PORT",
                        help="local backend: send through this SMTP server instead of the kit's "
                             "mail sink (which keeps the messages in <run>/mail)")
    _monitor_parser(sub)
    center = sub.add_parser("contact-center", help="serve the contact-center API and the agent's "
                                                   "page for a run prepared by notebook 09")
    center.add_argument("--run-dir", type=Path, required=True,
                        help="run folder whose contact_center/ notebook 09 filled")
    scoring = center.add_mutually_exclusive_group(required=True)
    scoring.add_argument("--model", type=Path, help="churn model.tar.gz to serve in this process")
    scoring.add_argument("--endpoint-url", help="a running `rfmkit serve` to score through")
    center.add_argument("--endpoint", default="rfmkit-contact-center",
                        help="endpoint name the handlers invoke (default: rfmkit-contact-center)")
    center.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    return parser


def _monitor_parser(sub) -> None:
    monitor = sub.add_parser(
        "monitor", help="judge served traffic (or a file of rows) for drift and quality, window by "
                        "window; write reports; optionally retrain on an alarm",
        description="Reads the run's captured requests (or --current FILE), cuts them into windows "
                    "and compares each with the model's training rows. Reports: "
                    "<run>/monitoring/reports/index.html.")
    monitor.add_argument("--run-dir", type=Path, required=True, help="the run folder (reports go "
                         "to its monitoring/ folder)")
    monitor.add_argument("--backend", choices=["local", "aws"], default="local")
    monitor.add_argument("--churn-data", default="contact_center",
                         help="which churn model: its reference and model come from "
                              "<run>/models/churn-<churn-data>/ (default: contact_center)")
    monitor.add_argument("--endpoint", help="the endpoint whose capture is judged (default: the "
                                            "churn model's production endpoint)")
    monitor.add_argument("--current", help="a CSV or Parquet file of rows to judge instead of "
                                           "captured requests (scored by the model if it has no "
                                           "churn_probability column)")
    monitor.add_argument("--reference", help="the rows to compare with (CSV/Parquet; default: the "
                                             "model's reference.parquet, its training rows)")
    monitor.add_argument("--model", help="the churn model.tar.gz (column kinds; scores --current)")
    monitor.add_argument("--label-column", default="",
                         help="in --current: the known outcome (1 = churned), for quality figures")
    monitor.add_argument("--capture", default="", help="capture root (default: <run>/capture, "
                                                       "or the run's S3 capture on aws)")
    monitor.add_argument("--ground-truth", default="", help="ground-truth root (default: "
                                                            "<run>/groundtruth)")
    monitor.add_argument("--since", default="", help="only requests captured from this time on "
                                                     "(ISO 8601, e.g. 2026-12-03T08:00Z)")
    monitor.add_argument("--window-rows", type=int, default=500, help="rows per window (500)")
    monitor.add_argument("--window", default="", help="calendar windows instead, e.g. 3h or 1d")
    monitor.add_argument("--min-rows", type=int, default=200,
                         help="a window with fewer rows is not judged (200)")
    monitor.add_argument("--alpha", type=float, default=0.001,
                         help="family-wise significance over the columns (0.001)")
    monitor.add_argument("--numeric-distance", type=float, default=0.1,
                         help="normed Wasserstein distance at which a numeric column drifts (0.1)")
    monitor.add_argument("--categorical-distance", type=float, default=0.1,
                         help="Jensen-Shannon distance at which a categorical column drifts (0.1)")
    monitor.add_argument("--min-labelled", type=int, default=100,
                         help="labelled rows a window needs for quality figures (100)")
    monitor.add_argument("--min-auc", type=float, default=0.7,
                         help="ROC-AUC below this raises an alarm; also the retrained model's gate")
    monitor.add_argument("--retrain", action="store_true",
                         help="on a new alarm: retrain a candidate, register it through the "
                              "quality gate and put it on the staging endpoint")
    monitor.add_argument("--every", default="", help="check again every period (e.g. 3h) until "
                                                     "stopped; prints the equivalent cron line")
    monitor.add_argument("--fail-on-alarm", action="store_true",
                         help="exit with status 3 when a window raised an alarm (for cron mail)")


def _parse_endpoint(text: str) -> tuple[str, Path]:
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"--model {text!r}: expected NAME=PATH")
    return name, Path(path).expanduser()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "generate":
        from rfmkit.data.synthetic import generate

        result = generate(args.out, scale=args.scale, seed=args.seed)
        for table, path in result.files.items():
            print(f"{table:22} {result.rows[table]:>12,} rows  {path}")
        print(f"generated in {result.seconds:.1f} s")
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if args.command == "alerts":
        return _alerts(args)
    if args.command == "contact-center":
        return _contact_center(args)
    if args.command == "monitor":
        from rfmkit.monitoring.command import run_monitor

        return run_monitor(args, sys.argv[2:] if argv is None else argv[1:])
    if args.command == "params":
        from rfmkit.runner import declared_parameters, discover

        for path in discover():
            print(path.stem)
            for name, default in declared_parameters(path).items():
                print(f"  {name} = {default}")
        return 0
    return 2


def _run(args: argparse.Namespace) -> int:
    from rfmkit.parameters import ParameterError, read_file
    from rfmkit.runner import RunInterrupted, RunnerError, run

    parameters: dict[str, Any] = {}
    try:
        if args.params:
            parameters.update(read_file(args.params))
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parameters.update(dict(args.param))
    try:
        run(args.backend, parameters, only=args.only.split(",") if args.only else None,
            start_from=args.start_from, run_dir=args.run_dir, progress=args.progress,
            resume=args.resume, dry_run=args.dry_run)
    except RunInterrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the first notebook started: nothing to resume
        print("stopped before any notebook ran", file=sys.stderr)
        return 130
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from rfmkit import dashboard
    from rfmkit.config import RunConfig
    from rfmkit.paths import RUNS_DIR, resolve_run_dir

    folder = args.run_dir or _default_run(resolve_run_dir(None), RUNS_DIR)
    if not folder.is_dir():
        print(f"error: --run-dir {folder}: no such run folder", file=sys.stderr)
        return 2
    try:
        path = dashboard.write(RunConfig(run_dir=folder), args.out)
    except dashboard.DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dashboard: {path} ({path.stat().st_size / 1e6:.1f} MB, works offline)")
    if args.open:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from rfmkit import alerts, backends

    if not args.run_dir.is_dir():
        print(f"error: --run-dir {args.run_dir}: no such run folder", file=sys.stderr)
        return 2
    known = {f.name for f in fields(alerts.AlertSettings)}
    unknown = [key for key, _ in args.param if key not in known]
    if unknown:
        print(f"error: -p {unknown[0]}: not an alert setting (one of {sorted(known)})",
              file=sys.stderr)
        return 2
    kit = backends.for_run(args.backend, run_dir=args.run_dir)
    notifier = None
    host, _, port = (args.smtp or "").rpartition(":")
    if args.smtp and not (host and port.isdigit()):
        print(f"error: --smtp {args.smtp!r}: expected HOST:PORT", file=sys.stderr)
        return 2
    if args.send and args.smtp:
        try:
            notifier = kit.notifier(smtp_host=host, smtp_port=int(port))
        except TypeError:
            print(f"error: --smtp is for the local backend ({args.backend} sends with its own "
                  f"service)", file=sys.stderr)
            return 2
    try:
        settings = alerts.AlertSettings(**dict(args.param)).check()
        with kit.warehouse() as warehouse:
            run = alerts.run_alerts(warehouse, kit, settings, send=args.send, notifier=notifier)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(run)
    for name, path in run.messages.items():
        print(f"  {name}: {path}")
    if run.sent.empty and args.send:
        print("  nothing new to send")
    return 0


def _default_run(workshop: Path, runs: Path) -> Path:
    """runs/workshop when it has exports, else the newest run folder that has them."""
    if (workshop / "exports").is_dir():
        return workshop
    candidates = sorted((p for p in runs.glob("*") if (p / "exports").is_dir()),
                        key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else workshop


def _wait_for_stop() -> None:
    """Until Ctrl-C or SIGTERM (both stop a server gracefully)."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()


def _contact_center(args: argparse.Namespace) -> int:
    from rfmkit.contact_center.local import LocalContactCenter
    from rfmkit.serving.operations import runtime_client_for
    from rfmkit.serving.server import LocalEndpointServer

    folder = args.run_dir / "contact_center"
    if not (folder / "contact_center.sqlite").exists():
        print(f"error: {folder} has no contact-center store: run notebook 09 for this run first "
              f"(rfmkit run --only 09 --run-dir {args.run_dir})", file=sys.stderr)
        return 2
    endpoint_server = None
    if args.model is not None:
        endpoint_server = LocalEndpointServer()
        try:
            endpoint_server.deploy(args.endpoint, args.model)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: --model: {exc}", file=sys.stderr)
            return 2
        endpoint_server.start()
    url = endpoint_server.url if endpoint_server else args.endpoint_url
    center = LocalContactCenter(args.run_dir, port=args.port)
    addresses = center.serve_here(args.endpoint, runtime_client_for(url))
    print(f"contact-center API on {addresses['api']}, scoring through {url} ({args.endpoint})")
    # Like `jupyter lab`, the command prints the page's address with its token for whoever started it.
    print(f"agent's page: {center.page_url}", flush=True)
    _wait_for_stop()
    center.close()
    if endpoint_server is not None:
        endpoint_server.stop()
    with contextlib.suppress(BrokenPipeError):  # whoever read the address may have gone
        print("stopped")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import gc

    from rfmkit.monitoring.metrics import ServingMetrics
    from rfmkit.serving.capture import CaptureError, CaptureWriter
    from rfmkit.serving.server import LocalEndpointServer

    try:
        capture = CaptureWriter(args.capture_dir, percent=args.capture_percent) if args.capture_dir else None
    except CaptureError as exc:
        print(f"error: --{exc}", file=sys.stderr)
        return 2
    # metrics at /metrics; drift gauges too when the capture sits in a run folder the monitor writes to
    monitoring = args.capture_dir.parent / "monitoring" if args.capture_dir else None
    server = LocalEndpointServer(host=args.host, port=args.port, capture=capture,
                                 metrics=ServingMetrics(monitoring), own_process=True)
    try:
        for name, path in args.model:
            model = server.deploy(name, path)
            print(f"endpoint {name}: {model.kind} model from {path}")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The models and libraries loaded so far live as long as the server: moving them out of the
    # garbage collector's generations keeps its pauses (a request's tail latency) short.
    gc.collect()
    gc.freeze()
    server.start()
    print(f"serving on {server.url} (Ctrl-C to stop); boto3 clients: "
          f"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={server.url}; Prometheus: {server.url}/metrics"
          + (f"; capturing {args.capture_percent:g} % into {args.capture_dir}" if capture else ""),
          flush=True)
    _wait_for_stop()
    server.stop()
    print("stopped")
    return 0
