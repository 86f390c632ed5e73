"""What a handler's run turned out to be, beyond success or failure: a duplicate the inbox
absorbed. The consumer counts deliveries by outcome; the inbox, deep in the handler, knows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Outcome:
    duplicate: bool = False


_current: ContextVar[Outcome | None] = ContextVar("events_outcome", default=None)


@contextmanager
def observed() -> Iterator[Outcome]:
    """The outcome of the handler run inside the block (a mutable record, so a claim made in a
    task the handler spawned is seen too)."""
    outcome = Outcome()
    token = _current.set(outcome)
    try:
        yield outcome
    finally:
        _current.reset(token)


def note_duplicate() -> None:
    """Called by the inbox when a delivery was processed before."""
    outcome = _current.get()
    if outcome is not None:
        outcome.duplicate = True
