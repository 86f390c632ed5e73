#!/usr/bin/env bash
# Build the local images without any registry: a Debian base from debootstrap, a Python base,
# and stand-ins for RabbitMQ, PostgreSQL, Redis and S3. Starts a docker engine first if none
# answers (root). Arguments go to `python -m devkit.images build`:
#   scripts/images-local.sh                    all of them (the Debian base is kept if present)
#   scripts/images-local.sh postgres redis     some (and the bases they need)
#   scripts/images-local.sh --force            re-import the Debian base from the cached rootfs
#   scripts/images-local.sh --refresh-rootfs   debootstrap again (newer packages)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
bash scripts/docker-engine.sh
# The Debian base is made with debootstrap (a small Debian package).
if ! command -v debootstrap >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "images: installing debootstrap from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache show debootstrap >/dev/null 2>&1 || apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
exec uv run python -m devkit.images build "$@"
