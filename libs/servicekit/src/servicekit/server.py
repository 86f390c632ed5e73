"""Serving apps with uvicorn, logging through the service's structlog set-up.

A process may serve two apps (the public API and its ops app on another port): the first one
owns the signals and the lifespan; a signal stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Sequence
from types import FrameType

import uvicorn
from fastapi import FastAPI


def _config(app: FastAPI, host: str, port: int, *, lifespan: bool) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the root logger's JSON handler
        access_log=False,  # the request middleware logs each request with its ids
        proxy_headers=True,
        server_header=False,
        lifespan="on" if lifespan else "off",
    )


class _Follower(uvicorn.Server):
    """Stopped by the leader: it installs no signal handlers of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _Leader(uvicorn.Server):
    """Catches SIGTERM/SIGINT for the process and stops the followers with itself."""

    def __init__(self, config: uvicorn.Config, followers: Sequence[uvicorn.Server]) -> None:
        super().__init__(config)
        self.followers = followers

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        for follower in self.followers:
            follower.should_exit = True


async def serve(app: FastAPI, host: str, port: int, *also: tuple[FastAPI, int]) -> None:
    """Serve `app` (with its lifespan) and each `(app, port)` of `also` (without) until
    SIGTERM/SIGINT; uvicorn drains open requests before returning."""
    followers = [_Follower(_config(extra, host, p, lifespan=False)) for extra, p in also]
    leader = _Leader(_config(app, host, port, lifespan=True), followers)
    await asyncio.gather(leader.serve(), *(f.serve() for f in followers))
