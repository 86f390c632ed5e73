#!/usr/bin/env bash
# Make sure a container engine answers `docker info`. Where none does, install Debian's docker.io
# (the daemon, containerd, runc; the CLI if missing) and start dockerd in the background.
# Idempotent: does nothing when an engine already answers. Needs root for the install and the start.
#   scripts/docker-engine.sh            ensure an engine answers
#   DOCKER_ENGINE_TIMEOUT=90 ...        seconds to wait for the daemon (default 60)
# The daemon serves the whole machine, so its log goes to /var/log/dockerd.log (DOCKERD_LOG), not
# into a checkout that may be removed while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

timeout_s="${DOCKER_ENGINE_TIMEOUT:-60}"
log_file="${DOCKERD_LOG:-/var/log/dockerd.log}"

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_answers; then
  echo "docker engine: already answering ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  # Someone pointed us at a remote engine; starting a local daemon would not make it answer.
  echo "error: DOCKER_HOST=$DOCKER_HOST is set but that engine does not answer" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "error: no docker engine answers and starting one needs root (run as root, or start dockerd yourself)" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "docker engine: installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  # Update the index only when the package is unknown to it (a fresh machine, an empty cache).
  if ! apt-cache show docker.io >/dev/null 2>&1; then
    apt-get update -qq
  fi
  # A docker CLI installed some other way (e.g. /usr/local/bin) stays first on PATH; that is fine,
  # the client negotiates the API version down to the daemon's.
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
fi

# A socket left by a daemon that died makes `docker info` fail the same way as no daemon at all.
if pid=$(cat /var/run/docker.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
  echo "docker engine: dockerd (pid $pid) is running but not answering yet; waiting"
else
  rm -f /var/run/docker.pid
  mkdir -p "$(dirname "$log_file")"
  echo "docker engine: starting dockerd (log: $log_file)"
  # setsid: the daemon outlives this script and the shell that ran it, and is not in its job group.
  # containerd is started by dockerd itself (its managed containerd) when no system one runs.
  setsid dockerd >>"$log_file" 2>&1 </dev/null &
fi

deadline=$(( $(date +%s) + timeout_s ))
until engine_answers; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "error: dockerd did not answer within ${timeout_s}s; last lines of $log_file:" >&2
    tail -n 20 "$log_file" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "docker engine: ready ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
