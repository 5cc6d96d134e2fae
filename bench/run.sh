#!/usr/bin/env bash
# Benchmark: the release server pinned to one core (one tokio worker thread), wrk pinned to the
# other core, on a fresh SQLite database. Prints requests/s for each scenario and the ratio to a
# baseline measured in the same run (GET /jwks: the same HTTP stack, no crypto, no database).
#
#   bash bench/run.sh            # 10 s per scenario
#   DURATION=30s bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -q -p tessera
BIN=$PWD/target/release/tessera

WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TESSERA_LISTEN=127.0.0.1:$PORT TESSERA_ISSUER=http://127.0.0.1:$PORT TESSERA_WORKER_THREADS=1 TESSERA_LOG__LEVEL=warn
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

REPO=$PWD
cd "$WORK"
CLIENT=$(echo '{"grant_types":["client_credentials"],"scope":"api","access_token_as_jwt":true}' | "$BIN" client create)
ID=$(echo "$CLIENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
SECRET=$(echo "$CLIENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
BASIC=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)

taskset -c "$SERVER_CPU" "$BIN" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

echo '{"username":"bench","password":"bench-password","name":"Bench User","email":"bench@example.com","groups":["staff","admins"]}' | "$BIN" user create >/dev/null
# A dynamic scope for the userinfo-with-a-plugin scenario (created before the client names it).
echo '{"id":"groups","scope_type":"dynamic","description":"Your groups"}' | "$BIN" scope create >/dev/null
WEB=$(echo '{"grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://rp.example/cb"],"scope":"openid profile email offline_access groups","trusted_client":true,"access_token_as_jwt":true}' | "$BIN" client create)
WEB_ID=$(echo "$WEB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
WEB_SECRET=$(echo "$WEB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
WEB_BASIC=$(printf '%s:%s' "$WEB_ID" "$WEB_SECRET" | base64 -w0)

TOKEN=$(curl -sf -H "Authorization: Basic $BASIC" -d grant_type=client_credentials "http://127.0.0.1:$PORT/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

cat > post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.body = os.getenv("BODY")
LUA

# Refresh-token chains (twice the connections: wrk primes each connection with an extra request
# call, which must not drain the pool). Each request takes a token from the pool, each
# response puts the rotated one back, so no token is ever presented twice.
python3 "$REPO/bench/user_tokens.py" "http://127.0.0.1:$PORT" "$WEB_ID" "$WEB_SECRET" bench bench-password "$((CONNS * 2))" > user_tokens.json
USER_AT=$(python3 -c 'import json; print(json.load(open("user_tokens.json"))["access_token"])')
python3 -c 'import json; print("\n".join(json.load(open("user_tokens.json"))["refresh_tokens"]))' > refresh_tokens.txt
cat > refresh.lua <<LUA
local pool = {}
for line in io.lines("refresh_tokens.txt") do pool[#pool + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $WEB_BASIC"
request = function()
  local t = table.remove(pool) or "exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. t)
end
response = function(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then pool[#pool + 1] = t end
end
LUA
# Revocation: a pool of client_credentials tokens, revoked in turn (after the first pass each
# request finds an already revoked grant: the same lookup, no write).
python3 - "http://127.0.0.1:$PORT" "$BASIC" 2000 > revoke_tokens.txt <<'PY'
import http.client, sys, urllib.parse, json
base, basic, n = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection(base.hostname, base.port)
for _ in range(n):
    c.request("POST", "/token", "grant_type=client_credentials",
              {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
    print(json.loads(c.getresponse().read())["access_token"])
PY
cat > revoke.lua <<LUA
local pool = {}
for line in io.lines("revoke_tokens.txt") do pool[#pool + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $BASIC"
request = function()
  i = i % #pool + 1
  return wrk.format(nil, nil, nil, "token=" .. pool[i])
end
LUA
cat > userinfo.lua <<LUA
wrk.headers["Authorization"] = "Bearer $USER_AT"
LUA

run() { # name, path, body-or-empty
  local out
  if [ -n "$3" ]; then
    out=$(BODY="$3" taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" -s post.lua "http://127.0.0.1:$PORT$2")
  else
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$PORT$2")
  fi
  local rps non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "$1 $rps ${non2xx:-0}"
}

run_script() { # name, path, lua script
  local out rps non2xx
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 10s -s "$3" "http://127.0.0.1:$PORT$2")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "$1 $rps ${non2xx:-0}"
}

BASE=$(run baseline_jwks /jwks "")
GRANTS=$(run client_credentials_es256_jwt /token "grant_type=client_credentials")
INTRO=$(run introspection /introspect "token=$TOKEN")
REFRESH=$(run_script refresh_rotation /token refresh.lua)
USERINFO=$(run_script userinfo /userinfo userinfo.lua)
REVOKE=$(run_script revocation /revoke revoke.lua)

# Plugin scenarios, hot-loaded into the running server: the Rust introspection plugin
# blocked-subjects bound to the first client, and the Rust dynamic-scope plugin member-of serving
# `groups`. Each is measured in alternation with its plugin-free twin (the same request for a
# token the plugin does not apply to: a second client's token; a user token without `groups`),
# ROUNDS pairs, and compared by medians, so that a machine whose speed drifts between runs does
# not decide the ratio.
ROUNDS=${ROUNDS:-3}
bash "$REPO/plugins/build.sh" >/dev/null
mkdir -p data/plugins
cp "$REPO/target/plugins/out/blocked-subjects.wasm" "$REPO/target/plugins/out/member-of.wasm" data/plugins/
cp "$REPO/target/plugins/out/member-of.toml" data/plugins/
{ cat "$REPO/target/plugins/out/blocked-subjects.toml"; printf '\n[bindings]\nclients = ["%s"]\n' "$ID"; } \
  > data/plugins/blocked-subjects.toml
for _ in $(seq 1 100); do
  python3 -c 'import json,sys; s=json.load(open("data/plugins-status.json")); sys.exit(0 if sum(p["state"]=="loaded" for p in s["plugins"]) == 2 else 1)' 2>/dev/null && break; sleep 0.1
done
CLIENT2=$(echo '{"grant_types":["client_credentials"],"scope":"api","access_token_as_jwt":true}' | "$BIN" client create)
BASIC2=$(echo "$CLIENT2" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["client_id"] + ":" + c["client_secret"])' | tr -d '\n' | base64 -w0)
TOKEN2=$(curl -sf -H "Authorization: Basic $BASIC2" -d grant_type=client_credentials "http://127.0.0.1:$PORT/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
GROUPS_AT=$(python3 "$REPO/bench/user_tokens.py" "http://127.0.0.1:$PORT" "$WEB_ID" "$WEB_SECRET" bench bench-password 1 "openid profile email groups" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -H "Authorization: Bearer $GROUPS_AT" "http://127.0.0.1:$PORT/userinfo" | grep -q '"memberOf"' \
  || { echo "userinfo with the dynamic scope lacks memberOf" >&2; exit 1; }
cat > userinfo_groups.lua <<LUA
wrk.headers["Authorization"] = "Bearer $GROUPS_AT"
LUA
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
rps_of() { echo "$1" | awk '{print $2}'; }
# One run's requests/s; non-2xx answers are reported, not hidden in a median.
sample() {
  local r; r=$("$@")
  [ "$(echo "$r" | awk '{print $3}')" = 0 ] || echo "warning: non-2xx answers in: $*" >&2
  rps_of "$r"
}
I0=(); I1=(); U0=(); U1=()
for _ in $(seq 1 "$ROUNDS"); do
  I0+=("$(sample run x /introspect "token=$TOKEN2")")
  I1+=("$(sample run x /introspect "token=$TOKEN")")
  U0+=("$(sample run_script x /userinfo userinfo.lua)")
  U1+=("$(sample run_script x /userinfo userinfo_groups.lua)")
done
INTRO_TWIN="introspection_no_plugin_twin $(median "${I0[@]}") 0"
INTRO_PLUGIN="introspection_rust_plugin $(median "${I1[@]}") 0"
USERINFO_TWIN="userinfo_no_plugin_twin $(median "${U0[@]}") 0"
USERINFO_PLUGIN="userinfo_dynamic_scope_rust $(median "${U1[@]}") 0"
ROWS=$(sqlite3 data/tessera.db 'select count(*) from tokens' 2>/dev/null || echo "?")

base_rps=$(echo "$BASE" | awk '{print $2}')
printf '\n%-32s %12s %10s %8s\n' scenario "requests/s" "vs base" "non-2xx"
for line in "$BASE" "$GRANTS" "$INTRO" "$REFRESH" "$USERINFO" "$REVOKE" \
  "$INTRO_TWIN" "$INTRO_PLUGIN" "$USERINFO_TWIN" "$USERINFO_PLUGIN"; do
  set -- $line
  printf '%-32s %12.0f %10.3f %8s\n' "$1" "$2" "$(echo "$2 / $base_rps" | bc -l)" "$3"
done
echo "(the last four: medians of $ROUNDS interleaved runs each, plugins loaded)"
printf 'introspection with a Rust plugin: %.3f of the plugin-free figure (goal >= 0.70)\n' \
  "$(echo "$(rps_of "$INTRO_PLUGIN") / $(rps_of "$INTRO_TWIN")" | bc -l)"
printf 'userinfo with a dynamic scope (Rust plugin): %.3f of the figure without it\n' \
  "$(echo "$(rps_of "$USERINFO_PLUGIN") / $(rps_of "$USERINFO_TWIN")" | bc -l)"
echo "(server: 1 core, 1 worker thread, SQLite WAL; load: wrk -t1 -c$CONNS -d$DURATION on another core; tokens persisted: $ROWS)"
