"""The local backend's contact center: SQLite stores in the run folder, the API on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from rfmkit.contact_center.online import SqliteOnlineFeatures
from rfmkit.contact_center.store import SqliteContactStore


class LocalContactCenter:
    """What `LocalBackend.contact_center()` hands out (protocols.ContactCenter)."""

    def __init__(self, run_dir: Path, *, port: int = 0):
        self.port = port
        folder = Path(run_dir) / "contact_center"
        self.run_dir = Path(run_dir)
        self.store = SqliteContactStore(folder / "contact_center.sqlite")
        self.features = SqliteOnlineFeatures(folder / "online_features.sqlite")
        self.server = None

    def describe(self) -> dict[str, str]:
        return {"profiles, contacts, prompts": self.store.description,
                "online features": self.features.description}

    def prepare_feature_store(self, columns: list[str], progress=print) -> str:
        return f"online features in {self.features.description} (created on first use)"

    def deploy(self, endpoint: str, runtime, progress=print) -> dict[str, str]:
        """Start the API and the agent's page; the handlers score through `endpoint`."""
        from rfmkit.contact_center.handlers import EndpointScorer, Services
        from rfmkit.contact_center.server import ContactCenterServer

        self.close()
        services = Services(self.store, self.features, EndpointScorer(runtime, endpoint))
        self.server = ContactCenterServer(services, port=self.port).start()
        record = self.server.record(self.run_dir)
        # The page's full address holds the token: kept in a file only you can read, not printed.
        return {"api": self.server.url, "page": f"{self.server.url}/agent",
                "page address with its token": str(record), "token": self.server.token}

    def api_client(self):
        """A client of the running API (one per simulated call: it holds a connection)."""
        from rfmkit.contact_center.simulator import HttpApi

        if self.server is None:
            raise RuntimeError("the contact-center API is not running: call deploy() first")
        return HttpApi(self.server.url, self.server.token)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
