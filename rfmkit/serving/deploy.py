"""Deployment from the registry: only the approved version is production.

The registry decides, the endpoints follow: `sync` serves the version behind the `production`
alias on the production endpoint and the `candidate` on staging. Promotion and rollback change the
registry first and then sync.

* Local (`LocalDeployer`): the local endpoint swaps models without a restart, so requests keep
  being answered throughout. The served file is the run's `sagemaker/model.tar.gz` artifact.
* AWS (`SageMakerDeployer`): the package's model.tar.gz on a SageMaker endpoint (scikit-learn
  container, rfmkit's inference module); an existing endpoint is updated to a new config, which
  SageMaker switches over without downtime.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rfmkit.churn.registry import CANDIDATE, PRODUCTION, MlflowRegistry
from rfmkit.sagemaker_jobs import safe_name
from rfmkit.serving.inference import model_fn
from rfmkit.serving.server import LocalEndpointServer

STAGES = {PRODUCTION: "production", CANDIDATE: "staging"}


def stage_endpoints(model_name: str | None = None) -> dict[str, str]:
    """Registry alias → endpoint name. With a model name the names are valid SageMaker endpoint
    names (`rfmkit-churn-contact-center-production`), used alike on both backends."""
    if model_name is None:
        return dict(STAGES)
    return {alias: safe_name(f"{model_name}-{stage}") for alias, stage in STAGES.items()}


class _RegistryDeployer:
    """What both backends share: the registry's aliases decide what each endpoint serves."""

    registry = None
    endpoints: dict[str, str] = {}

    def sync(self) -> dict[str, str | None]:
        """Serve what the registry says; returns endpoint → registered version (None: not served).
        The aliases are read under the registry's lock: never in the middle of another run's
        promotion demo."""
        served: dict[str, str | None] = {}
        with self.registry.lock():
            production = self.registry.alias(PRODUCTION)
            for alias, endpoint in self.endpoints.items():
                version = production if alias == PRODUCTION else self.registry.alias(alias)
                if alias == CANDIDATE and version == production:
                    version = None  # already live: staging has nothing new to show (and would cost on AWS)
                if version is None:
                    self._remove(endpoint)
                elif not self._serves(endpoint, version):
                    self._serve(endpoint, version)
                served[endpoint] = version
        return served

    def promote(self, version: str | int) -> dict[str, str | None]:
        self.registry.approve(version)
        return self.sync()

    def rollback(self) -> dict[str, str | None]:
        self.registry.rollback()
        return self.sync()

    @contextmanager
    def exclusive(self) -> Iterator[str | None]:
        """Hold the registry for a sequence of changes (notebook 06's promote → rollback demo):
        other runs wait instead of interleaving, and on leaving every alias is exactly as it was
        found (even when the block fails), and the endpoints follow. Yields the production version
        found."""
        with self.registry.lock():
            found = self.registry.snapshot()
            try:
                yield found.get(PRODUCTION)
            finally:
                self.registry.restore(found)
                self.sync()

    def teardown(self) -> None:
        for endpoint in self.endpoints.values():
            self._remove(endpoint)

    def _serves(self, endpoint: str, version: str) -> bool:
        raise NotImplementedError

    def _serve(self, endpoint: str, version: str) -> None:
        raise NotImplementedError

    def _remove(self, endpoint: str) -> None:
        raise NotImplementedError


class LocalDeployer(_RegistryDeployer):
    def __init__(self, server: LocalEndpointServer, registry: MlflowRegistry,
                 endpoints: dict[str, str] | None = None):
        self.server, self.registry = server, registry
        self.endpoints = endpoints or stage_endpoints()

    def _serves(self, endpoint: str, version: str) -> bool:
        try:
            return self.server.endpoints.get(endpoint).metadata.get("registry_version") == version
        except ValueError:
            return False

    def _serve(self, endpoint: str, version: str) -> None:
        model = model_fn(self.registry.download(version))
        model.metadata = {**model.metadata, "registry_version": version,
                          "registered_model": self.registry.name}
        self.server.deploy(endpoint, model)

    def _remove(self, endpoint: str) -> None:
        self.server.endpoints.remove(endpoint)


class SageMakerDeployer(_RegistryDeployer):
    """Endpoints that follow a SageMaker model package group (approved = production)."""

    def __init__(self, serving, registry, endpoints: dict[str, str] | None = None):
        self.serving, self.registry = serving, registry  # SageMakerServing, SageMakerRegistry
        self.endpoints = endpoints or stage_endpoints(registry.name)

    def _serves(self, endpoint: str, version: str) -> bool:
        found = self.serving.find(endpoint)
        if found is None:
            return False
        config = self.serving.sagemaker.describe_endpoint_config(
            EndpointConfigName=found.endpoint_config_name)
        model = self.serving.sagemaker.describe_model(
            ModelName=config["ProductionVariants"][0]["ModelName"])
        return model["PrimaryContainer"].get("ModelDataUrl") == self.registry.model_location(version)

    def _serve(self, endpoint: str, version: str) -> None:
        self.serving.deploy(endpoint, self.registry.model_location(version))

    def _remove(self, endpoint: str) -> None:
        self.serving.delete(endpoint)
