"""A protocol stub of Meilisearch's HTTP API, for testing what the adapter sends and how it
reads the answers: task objects, `/tasks/{uid}` polling, errors, swaps.

It is not a search engine and does not pretend to be one: it stores nothing the adapter writes,
evaluates no filter and ranks nothing. Tests script what it answers (`documents`,
`search_answer`, task outcomes, errors) and assert on `requests`. Search semantics are proven by
the conformance suite against a real Meilisearch (SEARCH_MEILISEARCH_URL) only.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from events.testing import LoopbackHttpServer

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class _Task:
    uid: int
    index_uid: str | None
    type: str
    outcome: tuple[str, dict[str, str] | None]
    polls: int = 0
    details: dict[str, Any] = field(default_factory=dict)


_ENQUEUES: list[tuple[str, str, str]] = [
    ("POST", r"/indexes", "indexCreation"),
    ("DELETE", r"/indexes/(?P<index>[^/]+)", "indexDeletion"),
    ("PATCH", r"/indexes/(?P<index>[^/]+)/settings", "settingsUpdate"),
    ("POST", r"/indexes/(?P<index>[^/]+)/documents", "documentAdditionOrUpdate"),
    ("POST", r"/indexes/(?P<index>[^/]+)/documents/delete", "documentDeletion"),
    ("POST", r"/swap-indexes", "indexSwap"),
]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _json(status: int, body: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def error_body(code: str, message: str, kind: str = "invalid_request") -> dict[str, str]:
    """An error object as Meilisearch documents it."""
    return {
        "message": message,
        "code": code,
        "type": kind,
        "link": f"https://docs.meilisearch.com/errors#{code}",
    }


class MeilisearchProtocolStub(LoopbackHttpServer):
    def __init__(self) -> None:
        super().__init__()
        # Meilisearch updates settings with PATCH, which the base server does not route yet.
        handler = self._server.RequestHandlerClass
        handler.do_PATCH = handler.do_POST  # type: ignore[attr-defined]
        self.requests: list[Recorded] = []
        self.documents: dict[str, dict[str, Any]] = {}
        """What document reads answer (never changed by the adapter's writes)."""
        self.search_answer: dict[str, Any] = {"hits": [], "estimatedTotalHits": 0}
        self.polls_before_done = 1
        """How many `/tasks/{uid}` answers say `processing` before the outcome."""
        self.delay_s = 0.0
        self._outcomes: deque[tuple[str, dict[str, str] | None]] = deque()
        self._errors: deque[tuple[int, dict[str, str]]] = deque()
        self._tasks: dict[int, _Task] = {}
        self._lock = threading.Lock()

    def next_tasks(self, *outcomes: tuple[str, dict[str, str] | None]) -> None:
        """Outcomes for the next enqueued tasks, in order: ("failed", error_body(...)),
        ("succeeded", None), or ("stall", None) for a task that stays `processing`."""
        self._outcomes.extend(outcomes)

    def fail_next_request(self, status: int, code: str, kind: str = "internal") -> None:
        self._errors.append((status, error_body(code, f"stubbed {code}", kind)))

    def sent(self, method: str, path: str) -> list[Any]:
        """Bodies of the recorded requests with this method and path (query string ignored)."""
        return [r.body for r in self.requests if (r.method, r.path) == (method, path)]

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        route = urlsplit(path).path
        parsed = json.loads(body) if body else None
        with self._lock:
            self.requests.append(Recorded(method, route, parsed))
            error = self._errors.popleft() if self._errors else None
        if self.delay_s:
            time.sleep(self.delay_s)  # this runs in the server's thread, as a slow server would
        if error is not None:
            return _json(*error)
        if method == "GET" and (m := re.fullmatch(r"/tasks/(\d+)", route)):
            return self._task(int(m.group(1)))
        if method == "GET" and (m := re.fullmatch(r"/indexes/[^/]+/documents/([^/]+)", route)):
            found = self.documents.get(m.group(1))
            if found is None:
                message = f"Document `{m.group(1)}` not found."
                return _json(404, error_body("document_not_found", message))
            return _json(200, found)
        if method == "POST" and re.fullmatch(r"/indexes/[^/]+/documents/fetch", route):
            results = list(self.documents.values())
            return _json(
                200, {"results": results, "offset": 0, "limit": 1000, "total": len(results)}
            )
        if method == "POST" and re.fullmatch(r"/indexes/[^/]+/search", route):
            return _json(200, self.search_answer)
        for verb, pattern, kind in _ENQUEUES:
            if method == verb and (m := re.fullmatch(pattern, route)):
                named = parsed.get("uid") if isinstance(parsed, dict) else None
                index = m.groupdict().get("index") or named
                return self._enqueue(kind, index)
        return _json(404, error_body("not_found", f"no route {method} {route} in the stub"))

    def _enqueue(self, kind: str, index: str | None) -> Answer:
        with self._lock:
            uid = len(self._tasks)
            outcome = self._outcomes.popleft() if self._outcomes else ("succeeded", None)
            self._tasks[uid] = _Task(uid, index, kind, outcome)
        info = {"taskUid": uid, "indexUid": index, "status": "enqueued", "type": kind}
        return _json(202, info | {"enqueuedAt": _now()})

    def _task(self, uid: int) -> Answer:
        with self._lock:
            task = self._tasks.get(uid)
            if task is None:
                return _json(404, error_body("task_not_found", f"Task `{uid}` not found."))
            task.polls += 1
            status, error = task.outcome
            if status == "stall" or task.polls <= self.polls_before_done:
                status, error = "processing", None
        now = _now()
        done = status != "processing"
        return _json(
            200,
            {
                "uid": uid,
                "batchUid": uid,
                "indexUid": task.index_uid,
                "status": status,
                "type": task.type,
                "canceledBy": None,
                "details": task.details,
                "error": error,
                "duration": "PT0.001S" if done else None,
                "enqueuedAt": now,
                "startedAt": now,
                "finishedAt": now if done else None,
            },
        )
