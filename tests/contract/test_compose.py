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


def compose_services() -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_service_has_its_migrate_job_api_and_worker(service: Service[Any]) -> None:
    compose = compose_services()
    for role in ("migrate", "api", "worker"):
        name = f"{service.name}-{role}"
        assert name in compose, f"compose.yaml has no {name}"
        assert compose[name]["command"] == [role], f"{name} runs {compose[name]['command']}"
        image = compose[name]["image"]
        variable = f"${{{service.name.upper()}_IMAGE:-portfolio-{service.name}:dev}}"
        assert image == variable, f"{name}'s image {image!r} is not overridable as {variable}"
    for role in ("api", "worker"):
        depends = compose[f"{service.name}-{role}"]["depends_on"]
        assert depends[f"{service.name}-migrate"] == {"condition": "service_completed_successfully"}
        assert depends["topology"] == {"condition": "service_completed_successfully"}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_api_and_worker_report_readiness_on_the_ports_they_serve(service: Service[Any]) -> None:
    compose = compose_services()
    http_port, worker_port = service.ports()
    for role, port in (("api", http_port), ("worker", worker_port)):
        spec = compose[f"{service.name}-{role}"]
        env = spec["environment"]
        prefix = service.name.upper()
        if role == "api" and f"{prefix}_HTTP_PORT" in env:
            port = int(env[f"{prefix}_HTTP_PORT"])
        if role == "worker" and f"{prefix}_WORKER_PORT" in env:
            port = int(env[f"{prefix}_WORKER_PORT"])
        probe = " ".join(spec["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, f"{service.name}-{role} probes {probe}"
    if "api" in compose[f"{service.name}-api"]["command"]:
        published = compose[f"{service.name}-api"]["ports"][0]
        assert published.endswith(f":{http_port}"), published


def _field_path_exists(model: Any, path: list[str]) -> bool:
    """`path` (the parts of a variable after the prefix, split at `__`) names a field."""
    fields = model.model_fields
    head, *rest = path
    if head not in fields:
        return False
    if not rest:
        return True
    annotation = fields[head].annotation
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return any(hasattr(c, "model_fields") and _field_path_exists(c, rest) for c in candidates)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_variable_compose_sets_is_one_the_service_reads(service: Service[Any]) -> None:
    """pydantic-settings ignores a variable no field reads: a misspelt one would be lost."""
    prefix = f"{service.name.upper()}_"
    for name, spec in containers_of(service).items():
        unread = [
            key
            for key in spec["environment"]
            if not _field_path_exists(
                service.settings, key.removeprefix(prefix).lower().split("__")
            )
        ]
        assert unread == [], f"{name} sets variables {service.name}'s settings never read: {unread}"


def test_every_dependency_waited_on_reports_its_health() -> None:
    compose = compose_services()
    for name, spec in compose.items():
        for dependency, condition in (spec.get("depends_on") or {}).items():
            if condition == {"condition": "service_healthy"}:
                assert "healthcheck" in compose[dependency], (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )


def test_every_image_is_a_variable_with_the_official_default() -> None:
    for name, spec in compose_services().items():
        assert re.fullmatch(r"\$\{[A-Z_]+_IMAGE:-[^}]+\}", spec["image"]), (
            f"{name}'s image {spec['image']} cannot be overridden"
        )
