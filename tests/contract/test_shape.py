"""Every service has the same shape, imports point one way, and the generated files are current."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from devkit import dockerfile
from devkit.platform import declarations

ROOT = Path(__file__).resolve().parents[2]
SHARED_FILES = (
    "__main__.py",
    "config.py",
    "container.py",
    "deps.py",
    "api.py",
    "bootstrap.py",
    "models.py",
    "handlers",
    "adapters",
    "migrations",
    "testing.py",
)
MAIN = '''"""`python -m {name} ...`: the entry points the image runs."""

from {name}.bootstrap import SERVICE
from servicekit.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
'''


def existing_services() -> list[str]:
    return sorted(p.name for p in (ROOT / "services").iterdir() if (p / "src").is_dir())


@pytest.mark.parametrize("service", existing_services())
def test_every_service_has_the_same_shape(service: str) -> None:
    base = ROOT / "services" / service
    package = base / "src" / service
    missing = [name for name in SHARED_FILES if not (package / name).exists()]
    missing += [n for n in ("Dockerfile", "tests", "pyproject.toml") if not (base / n).exists()]
    assert missing == [], f"services/{service} lacks {missing}"


@pytest.mark.parametrize("service", existing_services())
def test_the_entry_point_only_hands_the_declaration_to_servicekit(service: str) -> None:
    text = (ROOT / "services" / service / "src" / service / "__main__.py").read_text()
    body = text.split('"""', 2)[2]  # its docstring may say which extra commands it has
    assert body == MAIN.format(name=service).split('"""', 2)[2]


def test_every_service_is_declared_and_found_by_the_local_runner() -> None:
    assert next(s.name for s in declarations()) == "auth", "auth starts first (it signs tokens)"
    assert sorted(s.name for s in declarations()) == existing_services()


@pytest.mark.parametrize("service", declarations(), ids=lambda s: s.name)
def test_each_dockerfile_is_the_rendering_of_its_declaration(service: object) -> None:
    path = dockerfile.path_of(service)  # type: ignore[arg-type]
    assert path.read_text() == dockerfile.render(service), (  # type: ignore[arg-type]
        f"{path} is stale: run `just dockerfiles`"
    )


def test_the_import_contracts_cover_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    packages = {p.name for p in ROOT.glob("libs/*/src/*") if (p / "__init__.py").exists()}
    packages |= set(existing_services())
    assert set(config["root_packages"]) == packages
    contracts = {c["id"]: c for c in config["contracts"]}
    assert set(contracts["services"]["modules"]) == set(existing_services())
    assert set(contracts["layers"]["containers"]) == set(existing_services())
    assert set(contracts["acyclic"]["ancestors"]) == packages
    assert set(contracts["libraries"]["forbidden_modules"]) == set(existing_services())
