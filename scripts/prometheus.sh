#!/usr/bin/env bash
# Install Prometheus and promtool (Debian's `prometheus` package) when they are missing: the alert
# rules' unit tests run promtool, and the e2e alert test runs a real Prometheus.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: promtool/prometheus are missing and apt-get is not available;" \
       "install Prometheus (https://prometheus.io/download/) so that both are on PATH" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "error: promtool/prometheus are missing; run as root: apt-get install prometheus" >&2
    exit 1
  fi
fi
echo "installing Debian's prometheus package (promtool and the server)"
export DEBIAN_FRONTEND=noninteractive
# The package's own service is not wanted: the platform starts Prometheus with its own config.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && $sudo rm -f "$policy"' EXIT
if ! $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null; then
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null || {
    echo "error: could not install Debian's prometheus package (is a Debian mirror reachable?)" >&2
    exit 1
  }
fi
command -v promtool >/dev/null 2>&1 || { echo "error: promtool still missing after install" >&2; exit 1; }
