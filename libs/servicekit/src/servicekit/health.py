"""Readiness checks for the dependencies every service has."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from events.runtime import BusRuntime
from servicekit.http import ReadinessCheck


def database_check(engine: AsyncEngine, timeout_s: float = 2.0) -> ReadinessCheck:
    async def check() -> None:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def bus_check(runtime: BusRuntime) -> ReadinessCheck:
    async def check() -> None:
        if not runtime.ready:
            raise RuntimeError("broker connection, consumer or relay not running")

    return check
