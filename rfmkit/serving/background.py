"""An ASGI app served by uvicorn in a background thread on 127.0.0.1 (the local endpoint and the
contact-center API both run this way, inside the notebook's process)."""

from __future__ import annotations

import socket
import threading
import time


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class BackgroundServer:
    def __init__(self, app, host: str, port: int, name: str, *, one_openmp_thread: bool = True):
        """one_openmp_thread: see _run; False where the server is all its process does
        (`rfmkit serve`), so that large requests may use every core."""
        self.app, self.host, self.port, self.name = app, host, port or free_port(host), name
        self.one_openmp_thread = one_openmp_thread
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        import uvicorn

        # Idle keep-alive connections stay open for 65 s (uvicorn's default is 5 s): clients such as
        # httpx expire theirs after 5 s too, and when both sides time out at once the client can
        # reuse a connection the server is closing and get a reset instead of an answer.
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning",
                                access_log=False, timeout_graceful_shutdown=5, timeout_keep_alive=65)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on {self.url}")
            time.sleep(0.02)
        return self

    def _run(self) -> None:
        """One OpenMP thread for whatever the requests compute (e.g. scikit-learn's boosted trees
        on a 1,000-row request). OpenMP's setting is per thread, so this leaves the notebook's own
        work alone; without it, the OpenMP team this thread would leave behind made later model
        training in the notebook's main thread about 5× slower (measured: 20 s instead of 4 s)."""
        if self.one_openmp_thread:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="openmp")
        self._server.run()

    def stop(self) -> None:
        """Graceful: requests in flight finish, then the socket closes."""
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None
