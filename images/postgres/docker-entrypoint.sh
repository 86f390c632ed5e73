#!/bin/bash
# First start: initdb with the official image's variables, run /docker-entrypoint-initdb.d once on
# a server only the unix socket reaches; then the server, listening on every address.
set -Eeuo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" != postgres ] || [ -s "$PGDATA/PG_VERSION" ]; then
  exec "$@"
fi

user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
  cat >&2 <<'MSG'
error: the database is uninitialised and POSTGRES_PASSWORD is not set.
Set POSTGRES_PASSWORD (connections from other hosts need it), or POSTGRES_HOST_AUTH_METHOD=trust
to allow every connection without a password (tests only).
MSG
  exit 1
fi

pwfile="$(mktemp)"
trap 'rm -f "$pwfile"' EXIT
printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
  --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} >/dev/null
rm -f "$pwfile"
printf 'host all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" --no-password --dbname postgres)
if [ "$database" != postgres ]; then
  "${psql[@]}" --set db="$database" <<<"CREATE DATABASE :\"db\";" >/dev/null
fi
shopt -s nullglob
for script in /docker-entrypoint-initdb.d/*; do
  case "$script" in
    *.sh) echo "init: running $script"; . "$script" ;;
    *.sql) echo "init: running $script"; "${psql[@]}" --dbname "$database" -f "$script" ;;
    *.sql.gz) echo "init: running $script"; gunzip -c "$script" | "${psql[@]}" --dbname "$database" ;;
    *) echo "init: ignoring $script" ;;
  esac
done
pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
echo "init: PostgreSQL is initialised; starting it"

exec "$@" -c listen_addresses='*'
