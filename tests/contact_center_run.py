"""A prepared contact center for tests: a run folder with the directory, online and offline
features and prompts, a real local endpoint serving a churn model of the shipped data, and the
handlers configured to score through it (what notebook 09 sets up, in a few seconds)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import exported_run

from rfmkit import backends
from rfmkit.contact_center import handlers, prepare
from rfmkit.serving.inference import model_fn


def start(run: Path, threshold: float = 0.5) -> SimpleNamespace:
    kit = backends.for_run("local", run_dir=run, seed=42)
    warehouse = kit.warehouse()
    # A stand-in for notebook 07's customer_scores: the retail segment and CLV profiles link to.
    warehouse.execute("CREATE TABLE customer_scores AS SELECT 'r' || i AS customer_id, "
                      "CASE WHEN i % 10 = 0 THEN 'Champions' ELSE 'Hibernating' END AS segment, "
                      "i * 1.5 AS clv FROM range(1, 201) t(i)")
    _, _, path = exported_run.contact_center_model(run / "model", threshold)
    serving = kit.serving()
    model = model_fn(path)
    serving.serve(prepare.ENDPOINT, model, str(path))
    runtime = kit.runtime_client(serving)
    center = kit.contact_center()
    prepared = prepare.prepare(warehouse, kit, center, model, str(path), kit.batch_scorer(serving, runtime),
                               seed=42, progress=lambda *_: None)
    services = handlers.Services(center.store, center.features, handlers.EndpointScorer(runtime, prepare.ENDPOINT))
    return SimpleNamespace(kit=kit, warehouse=warehouse, serving=serving, runtime=runtime, center=center,
                           prepared=prepared, profiles=prepared.profiles.set_index("phone"), services=services,
                           model=model)


def stop(setup: SimpleNamespace) -> None:
    setup.center.close()
    handlers.configure(None)
    setup.serving.close()
    setup.warehouse.close()
