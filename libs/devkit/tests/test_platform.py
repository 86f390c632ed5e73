"""The local runner learns each service from its declaration: ports, needs, its own settings."""

from __future__ import annotations

from devkit import providers
from devkit.platform import Platform, declarations


def test_services_are_found_from_the_catalog_with_auth_first() -> None:
    names = [s.name for s in declarations()]
    assert names[0] == "auth"
    assert "notify" in names


def test_each_service_gets_its_settings_under_its_own_prefix() -> None:
    platform = Platform(providers.LocalProvider())
    platform.services = services = declarations()
    platform.run = providers.RunResources(
        run_id="t",
        amqp_url="amqp://guest:guest@127.0.0.1:5672/e2e-t",
        databases={s.name: f"postgresql://postgres@127.0.0.1/e2e_t_{s.name}" for s in services},
        bucket="e2e-t",
        s3=providers.S3("http://127.0.0.1:1", "a", "b"),
        meilisearch_url=None,
    )
    platform.ports = {s.name: (18000 + i, 19000 + i) for i, s in enumerate(platform.services)}
    platform.admin_ports = {s.name: 19500 + i for i, s in enumerate(platform.services)}
    notify = next(s for s in platform.services if s.name == "notify")
    env = platform.env(notify)
    assert all(key.startswith("NOTIFY_") for key in env)
    assert env["NOTIFY_DATABASE_URL"].endswith("/e2e_t_notify")
    assert env["NOTIFY_SMTP__PORT"] == str(platform.smtp.port), "notify needs smtp"
    assert env["NOTIFY_TOKENS__JWKS_URL"] == f"{platform.url('auth')}/.well-known/jwks.json"
    assert "NOTIFY_WEBHOOK_PUBLIC_KEY" in env, "its own settings come from notify.testing"
    auth = platform.env(next(s for s in platform.services if s.name == "auth"))
    assert "AUTH_SIGNING_KEYS" in auth and "AUTH_SMTP__HOST" not in auth
