"""The commands the image runs: migrate, then api and worker as processes, configured by env."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from auth.testing import PASSWORD, signing_keys_env
from devkit.servers import free_port
from events.testing import wait_for


def auth_env(
    database: str, amqp: str, api_port: int, worker_port: int, admin_port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_DATABASE_URL": database,
        "AUTH_BUS__AMQP_URL": amqp,
        "AUTH_BUS__EXCHANGE": f"events.{uuid.uuid4().hex[:8]}",
        "AUTH_HTTP_HOST": "127.0.0.1",
        "AUTH_HTTP_PORT": str(api_port),
        "AUTH_WORKER_PORT": str(worker_port),
        "AUTH_ADMIN_PORT": str(admin_port),
        "AUTH_SIGNING_KEYS": signing_keys_env(),
        "AUTH_LOG_JSON": "true",
        "AUTH_ARGON2_MEMORY_COST_KIB": "8192",
        "AUTH_ARGON2_TIME_COST": "1",
    }


def start(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "auth", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
async def processes(
    fresh_database: str, amqp_vhost: str
) -> AsyncIterator[tuple[str, str, str, list[subprocess.Popen[bytes]]]]:
    api_port, worker_port, admin_port = free_port(), free_port(), free_port()
    env = auth_env(fresh_database, amqp_vhost, api_port, worker_port, admin_port)
    migrate = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "auth", "migrate"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    running = [start("api", env), start("worker", env)]
    try:
        yield (
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{worker_port}",
            f"http://127.0.0.1:{admin_port}",
            running,
        )
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def test_api_and_worker_start_from_env_become_ready_and_stop_cleanly(
    processes: tuple[str, str, str, list[subprocess.Popen[bytes]]],
) -> None:
    api, worker, admin, running = processes

    async def both_ready() -> bool:
        return await ready(api) and await ready(worker)

    def why() -> str:
        dead = [p for p in running if p.poll() is not None]
        tails = [(p.stdout.read().decode() if p.stdout else "")[-2000:] for p in dead]
        reports = [
            f"{p.args!r} exited {p.returncode}: {t}" for p, t in zip(dead, tails, strict=True)
        ]
        return "; ".join(reports) or "still starting"

    await wait_for(both_ready, timeout=60, message=why)
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        created = await client.post(
            "/auth/register",
            json={"email": "proc@example.org", "password": PASSWORD, "display_name": "Proc"},
        )
        assert created.status_code == 202, created.text
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/metrics")).status_code == 404, "metrics are not public"
    async with httpx.AsyncClient(base_url=admin, timeout=10) as client:
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert 'route="/auth/register"' in metrics.text, "the api's own metrics, on its ops port"
    async with httpx.AsyncClient(base_url=worker, timeout=10) as client:
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/auth/register")).status_code == 404, "the worker serves no API"

    for process in running:
        process.send_signal(signal.SIGTERM)
    codes = [await asyncio.to_thread(p.wait, 30) for p in running]
    # uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit status is
    # the signal's; the logs show the bus drained and stopped first.
    assert codes == [-signal.SIGTERM, -signal.SIGTERM]
    logs = b"".join(p.stdout.read() if p.stdout else b"" for p in running).decode()
    assert logs.count('"bus stopped"') == 2, logs[-3000:]
    assert PASSWORD not in logs, "a password reached the logs"
    assert "private_key_pem" not in logs and "PRIVATE KEY" not in logs
