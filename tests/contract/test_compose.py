"""compose.yaml runs every service in production mode, and production refuses missing secrets.

Each service reads only `<NAME>_...` variables, so a bare `ENVIRONMENT: prod` would reach none
of them (every "not outside dev" guard off). This loads each service's settings from the
environment compose gives its containers, as pydantic-settings would read it in the image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from devkit.platform import declarations
from servicekit.service import Service

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SERVICES = declarations()


def example_secret(name: str) -> str:
    """A value an operator would put in the .env file for `name`."""
    if name == "AUTH_SIGNING_KEYS":
        from auth.testing import signing_keys_env

        return signing_keys_env()
    return f"{name.lower()}-0123456789abcdef0123456789abcdef"


def interpolate(value: str, provided: dict[str, str]) -> str | None:
    """compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}`; None where compose would
    refuse to start (a required variable missing)."""
    refused = False

    def one(match: re.Match[str]) -> str:
        nonlocal refused
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        if name in provided:
            return provided[name]
        if op.endswith("?"):
            refused = True
            return ""
        return arg if op.endswith("-") else ""

    result = VARIABLE.sub(one, value)
    return None if refused else result


def containers_of(service: Service[Any]) -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE.read_text())
    return {
        name: spec
        for name, spec in compose["services"].items()
        if name.startswith(f"{service.name}-") and spec.get("environment")
    }


def environment(spec: dict[str, Any], provided: dict[str, str]) -> dict[str, str]:
    """The container's variables; a required one that is missing is left out (compose itself
    refuses to start then: the settings must refuse on their own too)."""
    env = {}
    for key, raw in spec["environment"].items():
        value = interpolate(str(raw), provided)
        if value is not None:
            env[key] = value
    return env


def required_variables(spec: dict[str, Any]) -> set[str]:
    return {
        m["name"]
        for raw in spec["environment"].values()
        for m in VARIABLE.finditer(str(raw))
        if (m["op"] or "").endswith("?")
    }


def load(service: Service[Any], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    import os

    for key in list(os.environ):
        if key.startswith(f"{service.name.upper()}_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return service.settings()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_container_of_a_service_reads_only_its_own_variables(
    service: Service[Any],
) -> None:
    containers = containers_of(service)
    assert containers, f"compose.yaml runs no {service.name} container"
    prefix = f"{service.name.upper()}_"
    for name, spec in containers.items():
        foreign = [key for key in spec["environment"] if not key.startswith(prefix)]
        assert foreign == [], f"{name} sets variables {service.name} never reads: {foreign}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_compose_runs_each_service_in_production_mode(
    service: Service[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, spec in containers_of(service).items():
        provided = {v: example_secret(v) for v in required_variables(spec)}
        provided["POSTGRES_PASSWORD"] = "pg-password"
        settings = load(service, environment(spec, provided), monkeypatch)
        assert settings.environment == "prod", f"{name} runs as {settings.environment}"
        assert settings.log_json is True


def secrets_of(service: Service[Any]) -> set[str]:
    return set(service.settings.model_fields["secret_fields"].get_default())


WITH_SECRETS = [
    s
    for s in SERVICES
    if secrets_of(s) or any(required_variables(c) for c in containers_of(s).values())
]


def test_the_services_that_hold_secrets_are_the_ones_checked_below() -> None:
    assert {s.name for s in WITH_SECRETS} >= {"auth", "notify"}


@pytest.mark.parametrize("service", WITH_SECRETS, ids=lambda s: s.name)
def test_production_refuses_to_start_without_its_secrets(
    service: Service[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, spec in containers_of(service).items():
        required = required_variables(spec)
        secrets = secrets_of(service)
        with pytest.raises(ValidationError) as refused:
            load(service, environment(spec, {"POSTGRES_PASSWORD": "pg"}), monkeypatch)
        message = str(refused.value)
        # The variables compose fills from a missing secret, by the names the settings use.
        fed = {
            key
            for key, raw in spec["environment"].items()
            if any(m["name"] in required for m in VARIABLE.finditer(str(raw)))
        }
        named = (*secrets, *(r.split("_", 1)[1] for r in required), *fed)
        assert any(s in message for s in named), f"{name} refused for another reason: {message}"


def test_the_example_values_are_what_the_settings_accept() -> None:
    assert json.loads(example_secret("AUTH_SIGNING_KEYS"))[0]["kid"]
