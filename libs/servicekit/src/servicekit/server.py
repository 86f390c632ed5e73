"""Serving an app with uvicorn, logging through the service's structlog set-up."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI


async def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn drains open requests before returning."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the root logger's JSON handler
        access_log=False,  # the request middleware logs each request with its ids
        proxy_headers=True,
        server_header=False,
    )
    await uvicorn.Server(config).serve()
