"""structlog JSON logging: one line per event, bound with the ids that tie a workflow together."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from events.scrubbing import EMAIL, SCRUBBED

_SECRET_KEYS = frozenset({"password", "token", "secret", "authorization", "refresh_token", "dsn"})


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """A last line of defence: a field named like a secret is never written out."""
    for key in list(event_dict):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def _blank_addresses(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Email addresses in free text (an exception a driver raised quotes the value it refused,
    PostgreSQL's unique violation names the key) are blanked; ids identify people in logs."""
    for key in ("exception", "error", "event"):
        value = event_dict.get(key)
        if isinstance(value, str) and "@" in value:
            event_dict[key] = EMAIL.sub(SCRUBBED, value)
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library's loggers (uvicorn, aio-pika) to one JSON stream."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _blank_addresses,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _blank_addresses,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiormq narrates every reconnect attempt at DEBUG/INFO; the bus logs what matters itself.
    logging.getLogger("aiormq").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("aio_pika").setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
