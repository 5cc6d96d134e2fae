#!/usr/bin/env bash
# Builds every example plugin (and the test suite's fault fixture) from source into
#   target/plugins/out/NAME.wasm   (+ NAME.toml: the folder's manifest with sha256 filled in)
# Outputs are cached: a plugin is rebuilt only when its sources, the WIT package or its SDK
# changed. Installs the guest toolchains first (sdk/toolchain.sh). The test suite calls this;
# safe to run concurrently (one build at a time).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/plugins/out"
mkdir -p "$OUT"
exec 8>"$ROOT/target/plugins/.lock"
flock 8
bash "$ROOT/sdk/toolchain.sh"

# Hash of the given files/folders (contents and names), for the rebuild check.
hash_of() {
  find "$@" -type f ! -path '*/node_modules/*' ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -c1-64
}
COMMON=$(hash_of "$ROOT/wit")

# fresh NAME HASH: whether OUT/NAME.wasm was built from sources hashing to HASH.
fresh() { [ -f "$OUT/$1.wasm" ] && [ "$(cat "$OUT/$1.stamp" 2>/dev/null)" = "$2" ]; }

# install NAME MANIFEST: writes OUT/NAME.toml = MANIFEST + the wasm's sha256.
install_manifest() {
  local name=$1 manifest=$2 sha
  sha=$(sha256sum "$OUT/$name.wasm" | cut -c1-64)
  { grep -v '^sha256 *=' "$manifest"; } | awk -v sha="$sha" '
    !done && /^\[/ { print "sha256 = \"" sha "\"\n"; done = 1 }
    { print }
    END { if (!done) print "sha256 = \"" sha "\"" }' > "$OUT/.$name.toml.tmp"
  # Replace only on change, atomically: tests may be reading the previous one.
  if cmp -s "$OUT/.$name.toml.tmp" "$OUT/$name.toml"; then
    rm -f "$OUT/.$name.toml.tmp"
  else
    mv "$OUT/.$name.toml.tmp" "$OUT/$name.toml"
  fi
}

built() { echo "plugins: built $1 ($(stat -c %s "$OUT/$1.wasm") bytes)" >&2; }

# Rust: one cargo run for every Rust plugin (cargo does its own caching), own target dir so a
# running `cargo test` (which holds the workspace's) is not blocked.
RUST_PLUGINS=(add-tenant-claims blocked-subjects logout-page member-of login-context remote-groups)
RUST_FIXTURES=(faulty faulty-revoke faulty-introspection faulty-dynamic faulty-end-session legacy-dynamic)
CARGO_TARGET_DIR="$ROOT/target/plugins/cargo" cargo build --quiet --release \
  --target wasm32-wasip2 $(printf -- '-p %s ' "${RUST_PLUGINS[@]}" "${RUST_FIXTURES[@]}") >&2
for name in "${RUST_PLUGINS[@]}" "${RUST_FIXTURES[@]}"; do
  src="$ROOT/target/plugins/cargo/wasm32-wasip2/release/${name//-/_}.wasm"
  if ! cmp -s "$src" "$OUT/$name.wasm"; then
    cp "$src" "$OUT/.$name.wasm.tmp" && mv "$OUT/.$name.wasm.tmp" "$OUT/$name.wasm"; built "$name"
  fi
done
for name in "${RUST_PLUGINS[@]}"; do
  install_manifest "$name" "$ROOT/plugins/$name/$name.toml"
done
printf 'name = "faulty"\nhook = "update-token"\nversion = "1.0.0"\n[config]\nmode = "ok"\n' > "$OUT/faulty.manifest"
install_manifest faulty "$OUT/faulty.manifest"

# C
h=$(echo "$COMMON $(hash_of "$ROOT/plugins/revoke-guard" "$ROOT/sdk/c")" | sha256sum | cut -c1-64)
if ! fresh revoke-guard "$h"; then
  bash "$ROOT/sdk/c/build.sh" revoke-token-plugin "$OUT/.revoke-guard.wasm.tmp" \
    "$ROOT/plugins/revoke-guard/revoke_guard.c" 2>/dev/null
  mv "$OUT/.revoke-guard.wasm.tmp" "$OUT/revoke-guard.wasm"
  echo "$h" > "$OUT/revoke-guard.stamp"; built revoke-guard
fi
install_manifest revoke-guard "$ROOT/plugins/revoke-guard/revoke-guard.toml"

# Python: NAME:WORLD for each plugin folder holding app.py.
for entry in org-claims:dynamic-scope-plugin revoke-protect:revoke-token-plugin \
             introspection-user:introspection-plugin logout-notice:end-session-plugin; do
  name=${entry%%:*} world=${entry#*:}
  h=$(echo "$COMMON $(hash_of "$ROOT/plugins/$name" "$ROOT/sdk/python" "$ROOT/sdk/requirements.txt")" | sha256sum | cut -c1-64)
  if ! fresh "$name" "$h"; then
    bash "$ROOT/sdk/python/build.sh" "$world" "$OUT/.$name.wasm.tmp" "$ROOT/plugins/$name" 2>/dev/null
    mv "$OUT/.$name.wasm.tmp" "$OUT/$name.wasm"
    echo "$h" > "$OUT/$name.stamp"; built "$name"
  fi
  install_manifest "$name" "$ROOT/plugins/$name/$name.toml"
done

# JavaScript
h=$(echo "$COMMON $(hash_of "$ROOT/plugins/introspection-tenant" "$ROOT/sdk/js/build.mjs" "$ROOT/sdk/js/package-lock.json")" | sha256sum | cut -c1-64)
if ! fresh introspection-tenant "$h"; then
  node "$ROOT/sdk/js/build.mjs" introspection-plugin "$ROOT/plugins/introspection-tenant/plugin.js" \
    "$OUT/.introspection-tenant.wasm.tmp" >/dev/null
  mv "$OUT/.introspection-tenant.wasm.tmp" "$OUT/introspection-tenant.wasm"
  echo "$h" > "$OUT/introspection-tenant.stamp"; built introspection-tenant
fi
install_manifest introspection-tenant "$ROOT/plugins/introspection-tenant/introspection-tenant.toml"

echo "$OUT"
