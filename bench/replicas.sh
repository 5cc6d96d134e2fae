#!/usr/bin/env bash
# Throughput of 1 and 2 replicas on one PostgreSQL database (docs/scaling.md): the release
# server with one worker thread per replica, client_credentials (ES256 JWT, persisted) and
# introspection, driven by one wrk per replica for the same duration; the figures are summed.
# Not a test. Needs PostgreSQL (TESSERA_BENCH_POSTGRES_URL, default the local `test` database's
# server); the benchmark database is created and dropped.
#
#   bash bench/replicas.sh            # 10 s per scenario
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
ADMIN=${TESSERA_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REPO=$PWD
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tessera
BIN=$REPO/target/release/tessera
DB=tessera_bench_replicas
psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export TESSERA_DATABASE_URL=${ADMIN%/*}/$DB TESSERA_WORKER_THREADS=1 TESSERA_LOG__LEVEL=warn
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Replicas share the master key (the data dir) and the database.
P1=$(free_port)
P2=$(free_port)
for port in "$P1" "$P2"; do
  TESSERA_LISTEN=127.0.0.1:$port TESSERA_ISSUER=http://127.0.0.1:$P1 "$BIN" serve &
  PIDS+=($!)
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.05; done
done
CLIENT=$(echo '{"grant_types":["client_credentials"],"scope":"api","access_token_as_jwt":true}' | "$BIN" client create)
BASIC=$(echo "$CLIENT" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["client_id"] + ":" + c["client_secret"], end="")' | base64 -w0)
TOKEN=$(curl -sf -H "Authorization: Basic $BASIC" -d grant_type=client_credentials "http://127.0.0.1:$P1/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat > post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.body = os.getenv("BODY")
LUA
rps() { awk '/Requests\/sec/ {print $2}'; }
# run PATH PORT...: one wrk per port at once; prints the summed requests/s.
run() {
  local path=$1 total=0 p
  shift
  local outs=()
  for p in "$@"; do
    wrk -t1 -c"$CONNS" -d"$DURATION" -s post.lua "http://127.0.0.1:$p$path" > "wrk.$p" &
    outs+=($!)
  done
  wait "${outs[@]}"
  for p in "$@"; do total=$(echo "$total + $(rps < "wrk.$p")" | bc -l); done
  printf '%.0f' "$total"
}
export BODY="grant_type=client_credentials"
CC1=$(run /token "$P1")
CC2=$(run /token "$P1" "$P2")
export BODY="token=$TOKEN"
IN1=$(run /introspect "$P1")
IN2=$(run /introspect "$P1" "$P2")
printf '\n%-34s %12s %12s %8s\n' scenario "1 replica" "2 replicas" ratio
printf '%-34s %12s %12s %8.2f\n' "client_credentials (ES256 JWT)" "$CC1" "$CC2" "$(echo "$CC2 / $CC1" | bc -l)"
printf '%-34s %12s %12s %8.2f\n' "introspection" "$IN1" "$IN2" "$(echo "$IN2 / $IN1" | bc -l)"
echo "($(nproc) cores shared by the replicas (1 worker thread each), PostgreSQL and wrk -t1 -c$CONNS per replica, $DURATION)"
