"""What the retraining pipeline's processing steps run inside SageMaker's scikit-learn container
(`python -m rfmkit.monitoring.pipeline_steps <step>`), the same code the local retrainer uses:

* `prepare`: the training rows plus the captured requests whose outcome is now known (ground truth
  joined by inference id or event id), as the training job's CSV;
* `evaluate`: the candidate's evaluation.json (written by the training job into model.tar.gz),
  where the pipeline's quality condition reads its ROC-AUC;
* `register`: a model package in the registry's group, PendingManualApproval (the kit's
  SageMakerRegistry, the same call notebook 04 makes): a person approves it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
from pathlib import Path

import pandas as pd

ROOT = Path("/opt/ml/processing")


def prepare(root: Path, kinds: dict[str, str], columns: list[str]) -> Path:
    from rfmkit.churn.sagemaker_entry import DATA_FILE, LABEL
    from rfmkit.monitoring import ground_truth, served
    from rfmkit.serving.capture import read_events

    base = pd.read_csv(root / "train" / DATA_FILE)
    events = read_events(root / "capture") if (root / "capture").exists() else None
    added = pd.DataFrame(columns=[*columns, LABEL])
    if events is not None and not events.empty:
        rows = served.rows(events, columns, kinds)
        truth = ground_truth.read(root / "groundtruth") if (root / "groundtruth").exists() \
            else ground_truth.read_empty()
        rows = ground_truth.join(rows, truth)
        labelled = rows[rows["label"].notna()]
        added = labelled[columns].assign(**{LABEL: labelled["label"].astype(int)})
    out = root / "output" / "train"
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([base, added], ignore_index=True).to_csv(out / DATA_FILE, index=False)
    print(json.dumps({"training_rows": len(base), "served_rows_added": len(added)}))
    return out / DATA_FILE


def evaluate(root: Path) -> Path:
    [model] = list((root / "model").rglob("model.tar.gz"))
    out = root / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(model, "r:gz") as archive, archive.extractfile("evaluation.json") as source, \
            (out / "evaluation.json").open("wb") as target:
        shutil.copyfileobj(source, target)
    print((out / "evaluation.json").read_text()[:400])
    return out / "evaluation.json"


def register(model_name: str, model_uri: str, evaluation_uri: str, min_auc: float, region: str,
             image: str) -> str:
    import boto3

    from rfmkit.churn.registry import ModelRef, SageMakerRegistry

    evaluation = json.loads((ROOT / "evaluation" / "evaluation.json").read_text())
    roc_auc = float(evaluation["binary_classification_metrics"]["auc"]["value"])
    registry = SageMakerRegistry(model_name, boto3.client("sagemaker", region_name=region),
                                 image=lambda: image)
    registered = registry.register(ModelRef(artifact_uri=model_uri, evaluation_uri=evaluation_uri),
                                   roc_auc=roc_auc, min_auc=min_auc)
    print(registered)
    return registered.version


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rfmkit.monitoring.pipeline_steps")
    parser.add_argument("step", choices=["prepare", "evaluate", "register"])
    parser.add_argument("--kinds", default="{}")
    parser.add_argument("--columns", default="[]")
    parser.add_argument("--model-name", default="")
    parser.add_argument("--model-uri", default="")
    parser.add_argument("--evaluation-uri", default="")
    parser.add_argument("--min-auc", type=float, default=0.7)
    parser.add_argument("--region", default="")
    parser.add_argument("--image", default="")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.root, json.loads(args.kinds), json.loads(args.columns))
    elif args.step == "evaluate":
        evaluate(args.root)
    else:
        register(args.model_name, args.model_uri, args.evaluation_uri, args.min_auc, args.region,
                 args.image)


if __name__ == "__main__":
    main()
