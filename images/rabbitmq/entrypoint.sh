#!/bin/bash
# Writes rabbitmq.conf from the environment (the official image's variables), then runs the broker.
set -euo pipefail

conf_value() {  # a value as rabbitmq.conf (cuttlefish) reads it: no newlines, no comments
  case "$1" in
    *$'\n'* | *'#'*) echo "rabbitmq-entrypoint: $2 must not contain a newline or '#'" >&2; exit 64 ;;
  esac
  printf '%s' "$1"
}

{
  echo "listeners.tcp.default = $(conf_value "${RABBITMQ_NODE_PORT:-5672}" RABBITMQ_NODE_PORT)"
  echo "loopback_users = none"
  echo "default_user = $(conf_value "${RABBITMQ_DEFAULT_USER:-guest}" RABBITMQ_DEFAULT_USER)"
  echo "default_pass = $(conf_value "${RABBITMQ_DEFAULT_PASS:-guest}" RABBITMQ_DEFAULT_PASS)"
  echo "default_vhost = $(conf_value "${RABBITMQ_DEFAULT_VHOST:-/}" RABBITMQ_DEFAULT_VHOST)"
  echo "log.console = true"
  echo "log.console.level = info"
  echo "log.console.use_colors = off"
  echo "log.file = false"
} > /etc/rabbitmq/rabbitmq.conf

if [ "${RABBITMQ_MANAGEMENT:-false}" = true ]; then
  echo "[rabbitmq_management]." > /etc/rabbitmq/enabled_plugins
else
  echo "[]." > /etc/rabbitmq/enabled_plugins
fi

# The Erlang VM sizes its port table by the file limit; engines that pass an unlimited one on
# make it slow to start and hungry for memory.
if [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt 65536 ]; then
  ulimit -n 65536
fi

exec "$@"
