"""Deployment from the registry to the local endpoint: only the approved version is production.

The registry decides, the endpoint follows: `sync` serves the version behind the `production`
alias on the `production` endpoint and the `candidate` on `staging`. Promotion and rollback change
the registry first and then sync; the endpoint swaps models without a restart, so requests keep
being answered throughout. The served file is the run's `sagemaker/model.tar.gz` artifact, the
same archive a SageMaker endpoint would load.
"""

from __future__ import annotations

from pathlib import Path

from rfmkit.churn.registry import CANDIDATE, PRODUCTION, MlflowRegistry
from rfmkit.serving.inference import model_fn
from rfmkit.serving.server import LocalEndpointServer

ARTIFACT = "sagemaker/model.tar.gz"
ENDPOINT_FOR_ALIAS = {PRODUCTION: "production", CANDIDATE: "staging"}


def registered_artifact(registry: MlflowRegistry, version: str) -> Path:
    """The model.tar.gz logged with a registered version (downloaded from the tracking store)."""
    import mlflow

    run_id = registry.client.get_model_version(registry.name, version).run_id
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=ARTIFACT))


class LocalDeployer:
    def __init__(self, server: LocalEndpointServer, registry: MlflowRegistry):
        self.server, self.registry = server, registry

    def sync(self) -> dict[str, str | None]:
        """Serve what the registry says; returns endpoint → registered version (None: not served)."""
        served: dict[str, str | None] = {}
        for alias, endpoint in ENDPOINT_FOR_ALIAS.items():
            version = self.registry.alias(alias)
            current = self._served_version(endpoint)
            if version is None:
                self.server.endpoints.remove(endpoint)
            elif version != current:
                model = model_fn(registered_artifact(self.registry, version))
                model.metadata = {**model.metadata, "registry_version": version,
                                  "registered_model": self.registry.name}
                self.server.deploy(endpoint, model)
            served[endpoint] = version
        return served

    def promote(self, version: str | int) -> dict[str, str | None]:
        self.registry.approve(version)
        return self.sync()

    def rollback(self) -> dict[str, str | None]:
        self.registry.rollback()
        return self.sync()

    def _served_version(self, endpoint: str) -> str | None:
        try:
            return self.server.endpoints.get(endpoint).metadata.get("registry_version")
        except ValueError:
            return None
