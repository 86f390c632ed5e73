#!/usr/bin/env bash
# compose.yaml on this machine, from the local images (no registry): the stand-ins
# (`just images-local`) and the service images (`just images`), with docker-compose 1.29.
#   scripts/compose-local.sh up      start everything, wait until every container is healthy
#   scripts/compose-local.sh down    remove it all (volumes too)
#   scripts/compose-local.sh ps      (any other arguments go to docker-compose)
# Secrets and host ports are generated once into var/compose/local.env (mode 600).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
bash scripts/docker-engine.sh >/dev/null
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "compose: installing docker-compose from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show docker-compose >/dev/null 2>&1 || apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
exec uv run python -m devkit.images compose "$@"
