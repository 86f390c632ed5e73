"""What every service's tests share: a migrated database, an HTTP client on the app, a worker
whose components run in the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from servicekit import migrations
from servicekit.container import ServiceContainer
from servicekit.runner import api_app, worker_app
from servicekit.service import Service

CLIENT_ADDRESS = "203.0.113.7"
"""Where test requests come from (a documentation address, RFC 5737)."""


async def migrate(service: Service[Any], database_url: str) -> str:
    """Upgrade `database_url` to the service's head revision; returns the URL."""
    await asyncio.to_thread(migrations.upgrade, service, database_url)
    return database_url


def client(
    app: FastAPI, *, address: str = CLIENT_ADDRESS, base_url: str = "http://service"
) -> httpx.AsyncClient:
    """An HTTP client that calls the app in process (its lifespan is not run: no bus)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def api_client(
    service: Service[Any], container: ServiceContainer, *, address: str = CLIENT_ADDRESS
) -> httpx.AsyncClient:
    return client(api_app(service, container), address=address, base_url=f"http://{service.name}")


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run an app's lifespan (bus, jobs, listeners) in this event loop, then stop it all."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def running_worker(
    service: Service[Any], container: ServiceContainer
) -> AsyncIterator[FastAPI]:
    """The service's worker (consumer, relay, jobs, listeners) on real servers; the container
    is closed when it stops."""
    async with running(worker_app(service, container)) as app:
        yield app


async def schema_drift(service: Service[Any], database_url: str) -> list[Any]:
    """What autogenerate would change between a migrated database and the models (want: [])."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Connection

    from events.db import create_engine

    target = migrations.service_metadata(service)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, target))  # type: ignore[arg-type]

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(differences)
    finally:
        await engine.dispose()


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found += [sub, *_subclasses(sub)]
    return found


async def tables_after(service: Service[Any], database_url: str, revision: str) -> set[str]:
    """The tables left once the database is migrated up or down to `revision`."""
    from sqlalchemy import Connection, inspect

    from events.db import create_engine

    if revision == "base":
        await asyncio.to_thread(migrations.downgrade, service, database_url, "base")
    else:
        await asyncio.to_thread(migrations.upgrade, service, database_url, revision)

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(tables)
    finally:
        await engine.dispose()


class TokenIssuer:
    """Signs access tokens as auth does and serves its JWKS to a real `JwksVerifier` (over
    httpx's in-process transport), so services' tests authenticate callers without auth."""

    def __init__(self, issuer: str = "portfolio-auth", audience: str = "portfolio") -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.issuer, self.audience = issuer, audience
        self._key = Ed25519PrivateKey.generate()
        self.kid = "test-key"

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        import jwt

        jwk: dict[str, Any] = jwt.algorithms.OKPAlgorithm.to_jwk(
            self._key.public_key(), as_dict=True
        )
        return httpx.Response(200, json={"keys": [{**jwk, "kid": self.kid, "alg": "EdDSA"}]})

    def verifier(self) -> Any:
        from servicekit.tokens import JwksVerifier

        return JwksVerifier(
            "http://auth/.well-known/jwks.json",
            issuer=self.issuer,
            audience=self.audience,
            client=httpx.AsyncClient(transport=httpx.MockTransport(self._jwks)),
        )

    def token(self, user_id: Any, *, ttl_s: int = 600) -> str:
        import time

        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": "test-session",
            "iat": now,
            "exp": now + ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})

    def bearer(self, user_id: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}


class JwksServer:
    """A real HTTP endpoint serving a `TokenIssuer`'s JWKS, for services run as processes."""

    def __init__(self, issuer: TokenIssuer) -> None:
        from events.testing import LoopbackHttpServer

        outer = issuer

        class _Server(LoopbackHttpServer):
            def respond(
                self, method: str, path: str, headers: dict[str, str], body: bytes
            ) -> tuple[int, dict[str, str], bytes]:
                answer = outer._jwks(httpx.Request(method, path))
                return answer.status_code, {"Content-Type": "application/json"}, answer.content

        self._server = _Server()

    def __enter__(self) -> JwksServer:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/.well-known/jwks.json"


class Outbox:
    """Everything a service published so far (its outbox), drained through the contract kit."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.events: list[Any] = []

    async def drain(self) -> list[Any]:
        """The events published since the last drain, oldest first."""
        from events.db import create_engine
        from events.testing import drain_outbox

        engine = create_engine(self.database_url)
        try:
            fresh = await drain_outbox(engine)
        finally:
            await engine.dispose()
        self.events += fresh
        return fresh

    async def types(self) -> list[str]:
        return [e.type for e in await self.drain()]

    async def written(self) -> list[str]:
        """The type of every event ever written to the outbox, relayed or not, oldest first
        (when a running worker's relay has published them, `drain` finds nothing left)."""
        import asyncpg

        from events.db import asyncpg_dsn, create_engine

        engine = create_engine(self.database_url)
        try:
            connection = await asyncpg.connect(asyncpg_dsn(engine))
        finally:
            await engine.dispose()
        try:
            rows = await connection.fetch("SELECT event_type FROM outbox ORDER BY seq")
        finally:
            await connection.close()
        return [row["event_type"] for row in rows]
