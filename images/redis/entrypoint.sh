#!/bin/sh
# Like the official image: `redis-server [options]` or bare options run the server, here always
# with the stand-in's configuration first (options given later override it); anything else runs.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  shift
  exec redis-server /etc/redis/stand-in.conf "$@"
fi
exec "$@"
