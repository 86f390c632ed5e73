# Every command a person runs. `./platform <recipe>` installs what is missing first.

set shell := ["bash", "-euo", "pipefail", "-c"]

services := `ls services | tr "\n" " "`
pytest := "uv run pytest"

# List the recipes.
default:
    @just --list

# Install the workspace and start the local servers.
setup:
    bash scripts/infra.sh
    uv sync --all-packages --frozen

# Start PostgreSQL and RabbitMQ if they are down.
infra:
    bash scripts/infra.sh

# Run the whole platform locally (every service's api and worker, an SMTP catcher).
up *args:
    uv run python -m devkit.up {{args}}

# Alias of `up`.
dev *args:
    just up {{args}}

# Every suite: the bus, the shared kits, each service, contracts, end to end.
test: test-events test-servicekit test-devkit test-services test-contract test-alerts e2e

# libs/events: unit tests and the integration tests on RabbitMQ and PostgreSQL.
test-events *args:
    {{pytest}} libs/events/tests {{args}}

# libs/servicekit's tests.
test-servicekit *args:
    {{pytest}} libs/servicekit/tests {{args}}

# libs/devkit's tests (local servers, the fault proxy).
test-devkit *args:
    {{pytest}} libs/devkit/tests {{args}}

# Each service's tests, one pytest run per service (as CI and the images see them).
test-services:
    for s in {{services}}; do just test-service "$s"; done

# One service's tests: `just test-service auth`.
test-service name *args:
    {{pytest}} services/{{name}}/tests {{args}}

test-auth *args:
    just test-service auth {{args}}

test-notify *args:
    just test-service notify {{args}}

test-portfolio *args:
    just test-service portfolio {{args}}

test-media *args:
    just test-service media {{args}}

test-search *args:
    just test-service search {{args}}

# The alert rules' unit tests (promtool, from Debian's prometheus package; installed if missing).
test-alerts:
    bash scripts/prometheus.sh
    promtool check rules monitoring/alerts.yml
    promtool test rules monitoring/alerts.test.yml

# Cross-service contract tests over the catalog.
test-contract *args:
    {{pytest}} tests/contract {{args}}

# The end-to-end workflows (E2E_INFRA=local|containers|auto, default auto).
e2e *args:
    {{pytest}} tests/e2e {{args}}

# schemathesis, all checks, against every service's OpenAPI on a local platform, bounded in
# examples and time (`just fuzz`, `just fuzz portfolio`, `just fuzz --examples 100 --seconds 300`).
fuzz *args:
    uv run python -m devkit.fuzz {{args}}

# ruff, formatting, mypy, the import contracts and the generated Dockerfiles, as CI runs them.
lint:
    uv run ruff check .
    uv run ruff format --check .
    uv run mypy
    uv run lint-imports
    uv run python -m devkit.dockerfile --check

# Rewrite every service's Dockerfile from its declaration (devkit/dockerfile.py).
dockerfiles:
    uv run python -m devkit.dockerfile

# Format and fix what can be fixed automatically.
fmt:
    uv run ruff format .
    uv run ruff check --fix .

# Regenerate the committed JSON Schemas (refuses breaking changes) and docs/asyncapi.yaml.
contracts:
    uv run python -m events schemas --write
    uv run python -m events asyncapi --write

# Benchmarks (`just bench`, or `just bench portfolio`); results land in bench/results/.
bench *args:
    uv run python -m bench {{args}}

# Operator tools for dead-letter queues: `just dlq list notify.welcome_email`.
dlq *args:
    uv run python -m events dlq {{args}}

# Build each service's image, portfolio-<name>:dev, and print sizes, users and healthchecks
# (`just images`, `just images auth notify`). From python:3.11-slim and PyPI where the engine
# has or can pull that base; else offline, FROM the local base with a wheelhouse (--offline).
images *args:
    uv run python -m devkit.images services {{args}}

# The local base and the stand-ins for RabbitMQ, PostgreSQL, Redis and S3, from Debian packages
# (`just images-local`, `just images-local postgres`); starts a docker engine if none answers.
images-local *args:
    bash scripts/images-local.sh {{args}}

# compose.yaml from the local images with docker-compose 1.29: `just compose-local up|down|ps`.
compose-local *args:
    bash scripts/compose-local.sh {{args}}

# The images on the engine: stand-ins, the containers provider, each service's image, compose.
test-images *args:
    {{pytest}} tests/images {{args}}
