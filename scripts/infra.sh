#!/usr/bin/env bash
# Start the local servers the platform and its tests need, where they are not running already:
# PostgreSQL, RabbitMQ and Redis (Debian packages on machines of this kind).
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 120); do
    port_open "$port" && return 0
    sleep 0.5
  done
  echo "error: $name did not come up on 127.0.0.1:$port" >&2
  return 1
}

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    wait_port 5432 PostgreSQL
  else
    echo "error: PostgreSQL is not running on 127.0.0.1:5432 and is not installed here" >&2
    exit 1
  fi
fi

if ! port_open 5672; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached
    wait_port 5672 RabbitMQ
  else
    echo "error: RabbitMQ is not running on 127.0.0.1:5672 and is not installed here" >&2
    exit 1
  fi
fi
if ! port_open 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    # A cache: nothing is kept on disk.
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_port 6379 Redis
  else
    echo "error: Redis is not running on 127.0.0.1:6379 and is not installed here (apt-get install redis-server)" >&2
    exit 1
  fi
fi

# The port opens before the broker accepts work; wait until it answers.
if command -v rabbitmqctl >/dev/null 2>&1; then
  rabbitmqctl -q await_startup --timeout 120 >/dev/null
fi
