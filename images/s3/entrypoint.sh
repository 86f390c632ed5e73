#!/bin/bash
# `server`: write the identities file from the environment and run weed's master, volume, filer
# and S3 gateway, only the gateway reachable from outside. `healthcheck`: the gateway answers.
set -euo pipefail

port="${S3_PORT:-8333}"

if [ "${1:-}" = healthcheck ]; then
  # /healthz needs no signature and answers 200 once the gateway reaches its filer.
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 2 status <&3
  [[ "$status" == "HTTP/1."[01]" 200"* ]]
  exit
fi

if [ "${1:-}" != server ]; then
  exec "$@"
fi
shift
# MinIO's command line (`server /data --console-address :9001`, as compose files write it) is
# accepted and its arguments dropped: data lives in /data anyway and there is no console. Flags
# that start with a single dash go on to weed.
weed_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --console-address | --address) shift 2 || shift ;;
    --*) shift ;;
    -*) weed_args+=("$1"); shift ;;
    *) shift ;;
  esac
done

access_key="${S3_ACCESS_KEY:-${MINIO_ROOT_USER:-minioadmin}}"
secret_key="${S3_SECRET_KEY:-${MINIO_ROOT_PASSWORD:-minioadmin}}"
for key in "$access_key" "$secret_key"; do
  # The keys go into JSON unescaped: refuse what would need escaping (S3 keys never do).
  if [[ ! "$key" =~ ^[A-Za-z0-9+/=._-]{3,128}$ ]]; then
    echo "s3-entrypoint: S3_ACCESS_KEY and S3_SECRET_KEY must be 3-128 of [A-Za-z0-9+/=._-]" >&2
    exit 64
  fi
done
config=/data/identities.json
umask 077
cat > "$config" <<JSON
{"identities": [{"name": "admin",
  "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON

exec weed -logtostderr server \
  -dir=/data \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.ip.bind=0.0.0.0 \
  -master.telemetry=false \
  -master.electionTimeout=1s \
  -master.volumeSizeLimitMB="${S3_VOLUME_SIZE_LIMIT_MB:-256}" \
  -volume.max=500 \
  -volume.preStopSeconds=0 \
  -filer \
  -s3 -s3.port="$port" -s3.config="$config" \
  -s3.port.iceberg=0 -s3.port.lance=0 \
  "${weed_args[@]}"
