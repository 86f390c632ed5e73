#!/usr/bin/env bash
# Wheels for building one service's image with no package index reachable from the build:
# var/wheelhouse/<service>/ gets requirements.txt (hash-pinned, exported from uv.lock), the
# CPython 3.11 manylinux x86_64 wheels it names and the build backend; var/wheelhouse/workspace/
# gets wheels of the workspace packages it needs (uv build), for installs outside an image.
#   scripts/wheelhouse.sh auth            downloads only what the lock changed since last time
#   scripts/wheelhouse.sh auth --fresh    every wheel again
# Then: docker build -f services/auth/Dockerfile --build-arg BASE_IMAGE=portfolio-local/python:3.11 \
#         --build-arg WHEELHOUSE=var/wheelhouse/auth -t portfolio-auth:dev .
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
if [ $# -lt 1 ]; then
  echo "usage: scripts/wheelhouse.sh <service> [--fresh]" >&2
  exit 64
fi
exec uv run python -m devkit.images wheelhouse "$@"
