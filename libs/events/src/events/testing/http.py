"""Real HTTP servers on loopback standing in for outside services (Sentry, providers)."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

from pydantic import BaseModel

from events.envelope import EventData

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=EventData)


class LoopbackHttpServer:
    """A real HTTP server on 127.0.0.1, in a thread, for stand-ins of outside services.

    Subclasses answer in `respond`; use the server as a context manager.
    """

    def __init__(self) -> None:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, body = server.respond(
                    self.command, self.path, dict(self.headers), raw
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


class SentryCapture(LoopbackHttpServer):
    """Accepts Sentry envelopes, so tests can assert that an alert was raised.

    Use `dsn` as the SENTRY_DSN of the code under test; `events()` returns the error events it got,
    `transactions()` the performance data (one per traced request, relay publish or handler run),
    and `paths` the endpoints the SDK posted to (`/api/<project>/envelope/`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._received: list[dict[str, Any]] = []
        self._transactions: list[dict[str, Any]] = []
        self.paths: set[str] = set()
        self._lock = threading.Lock()

    def respond(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with self._lock:
            self.paths.add(path.split("?")[0])
        self._ingest(body)
        return 200, {"Content-Type": "application/json"}, b"{}"

    @property
    def dsn(self) -> str:
        return self.base_url.replace("http://", "http://public@") + "/1"

    def _ingest(self, raw: bytes) -> None:
        lines = raw.split(b"\n")
        items: list[dict[str, Any]] = []
        transactions: list[dict[str, Any]] = []
        i = 1  # line 0 is the envelope header
        while i + 1 < len(lines):
            try:
                header = json.loads(lines[i])
                payload = json.loads(lines[i + 1])
            except ValueError:
                i += 1
                continue
            if header.get("type") == "event" and isinstance(payload, dict):
                items.append(payload)
            elif header.get("type") == "transaction" and isinstance(payload, dict):
                transactions.append(payload)
            i += 2
        with self._lock:
            self._received.extend(items)
            self._transactions.extend(transactions)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)

    def transactions(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._transactions)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._transactions.clear()
