"""compose.yaml run here, with Debian's docker-compose (1.29), from the local images: every
image variable pointed at a stand-in or a service image built offline, secrets generated once
into var/compose/local.env (mode 600, never committed), host ports chosen free, and the search
service on PostgreSQL where no Meilisearch image exists (the meilisearch service left out).

`python -m devkit.images compose up` starts it and waits until every container is healthy (and
every job has exited 0); `... compose down` removes it; other arguments go to docker-compose.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from devkit.images import docker
from devkit.images.catalog import IMAGES
from devkit.servers import free_port

PROJECT = "portfolio-local"
STAND_INS = {
    "RABBITMQ_IMAGE": IMAGES["rabbitmq"].tag,
    "POSTGRES_IMAGE": IMAGES["postgres"].tag,
    "MINIO_IMAGE": IMAGES["s3"].tag,
    "REDIS_IMAGE": IMAGES["redis"].tag,
    "MAILPIT_IMAGE": IMAGES["smtp"].tag,
}
PORTS = (
    "AMQP_PORT",
    "RABBITMQ_UI_PORT",
    "MAILPIT_PORT",
    "AUTH_PORT",
    "NOTIFY_PORT",
    "NOTIFY_BOUNCE_PORT",
    "PORTFOLIO_PORT",
    "MEDIA_PORT",
    "SEARCH_PORT",
)
SECRETS = (
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "MEILI_MASTER_KEY",
    "NOTIFY_BOUNCE_SECRET",
    "NOTIFY_UNSUBSCRIBE_SECRET",
    "NOTIFY_ADMIN_TOKEN",
)
HEALTH_TIMEOUT = 300.0  # seconds for the whole platform, cold, on two shared cores


class ComposeError(docker.DockerError):
    """docker-compose is missing, failed, or a container never became healthy."""


def compose_file(root: Path) -> Path:
    return root / "compose.yaml"


def local_env_file(root: Path) -> Path:
    return root / "var" / "compose" / "local.env"


def local_environment(root: Path) -> dict[str, str]:
    """The variables compose.yaml reads, for a run from the local images; generated secrets and
    ports are kept in var/compose/local.env so that `up`, `ps` and `down` agree."""
    path = local_env_file(root)
    saved: dict[str, str] = {}
    if path.exists():
        saved = json.loads(path.read_text())
    env = dict(saved)
    for name in SECRETS:
        env.setdefault(name, secrets.token_hex(24))
    env.setdefault("MINIO_ROOT_USER", "portfolio")
    for name in PORTS:
        env.setdefault(name, str(free_port()))
    if "AUTH_SIGNING_KEYS" not in env:
        key = docker.docker("run", "--rm", "portfolio-auth:dev", "keygen").strip()
        env["AUTH_SIGNING_KEYS"] = json.dumps([json.loads(key)])
    env |= STAND_INS  # always the stand-ins' current tags
    env["SEARCH_INDEX_BACKEND"] = "meilisearch" if meilisearch_here(env) else "postgres"
    if env != saved:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(env, indent=2))
    return env


def meilisearch_here(env: Mapping[str, str]) -> bool:
    return docker.image_exists(env.get("MEILISEARCH_IMAGE", "getmeili/meilisearch:v1.11"))


def services(root: Path, env: Mapping[str, str]) -> list[str]:
    """Every service of compose.yaml, but Meilisearch where its image is absent."""
    names = list(yaml.safe_load(compose_file(root).read_text())["services"])
    return [n for n in names if n != "meilisearch" or meilisearch_here(env)]


def compose(root: Path, env: Mapping[str, str], *args: str, quiet: bool = False) -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        raise ComposeError(
            "docker-compose is not installed: `apt-get install docker-compose` (Debian's 1.29)"
        )
    done = subprocess.run(
        [binary, "--project-name", PROJECT, "--file", str(compose_file(root)), *args],
        cwd=root,
        env={**os.environ, **env, "COMPOSE_DOCKER_CLI_BUILD": "0"},
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ComposeError(f"docker-compose {' '.join(args[:2])} failed:\n{done.stdout or ''}")
    return done.stdout or ""


def states(root: Path, env: Mapping[str, str]) -> dict[str, dict[str, object]]:
    """Each container of the project by compose service: its status, exit code and health."""
    ids = compose(root, env, "ps", "--all", "--quiet", quiet=True).split()
    found: dict[str, dict[str, object]] = {}
    for container in ids:
        info = json.loads(docker.docker("inspect", container))[0]
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        state = info["State"]
        found[service] = {
            "status": state["Status"],
            "exit_code": state["ExitCode"],
            "health": (state.get("Health") or {}).get("Status"),
        }
    return found


def wait_healthy(root: Path, env: Mapping[str, str], timeout: float = HEALTH_TIMEOUT) -> None:
    """Until every long-running container is healthy and every job exited 0; a job that failed
    or a container that stopped ends the wait at once, with its log."""
    expected = services(root, env)
    deadline = time.monotonic() + timeout
    while True:
        current = states(root, env)
        for name, state in current.items():
            if state["status"] == "exited" and state["exit_code"] != 0:
                raise ComposeError(
                    f"{name} exited with {state['exit_code']}:\n{logs(root, env, name)}"
                )
        pending = [
            n
            for n in expected
            if n not in current
            or not (
                current[n]["health"] == "healthy"
                or (current[n]["status"] == "exited" and current[n]["exit_code"] == 0)
            )
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            described = {n: current.get(n) for n in pending}
            raise ComposeError(f"not healthy within {timeout:.0f}s: {described}")
        time.sleep(1)


def logs(root: Path, env: Mapping[str, str], service: str, lines: int = 40) -> str:
    return compose(root, env, "logs", "--no-color", "--tail", str(lines), service, quiet=True)


def up(root: Path) -> dict[str, str]:
    """Start the platform from the local images and wait for it; the environment it ran with."""
    env = local_environment(root)
    for variable, image in STAND_INS.items():
        if not docker.image_exists(image):
            raise ComposeError(f"{image} ({variable}) is not built: run `just images-local`")
    names = services(root, env)
    if "meilisearch" not in names:
        print("compose: no Meilisearch image here: search runs on PostgreSQL full-text search")
    compose(root, env, "up", "--detach", "--no-build", *names)
    wait_healthy(root, env)
    return env


def down(root: Path) -> None:
    env = local_environment(root)
    compose(root, env, "down", "--volumes", "--remove-orphans")
