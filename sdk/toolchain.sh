#!/usr/bin/env bash
# Installs the pinned guest toolchains into target/tools (cached between runs; nothing global
# except the rustup wasm32-wasip2 target). Safe to run concurrently: one run at a time holds a lock.
# Prints nothing but progress on stderr; afterwards `source sdk/toolchain.env` puts them on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${TESSERA_TOOLS:-$ROOT/target/tools}"
mkdir -p "$TOOLS"
exec 9>"$TOOLS/.lock"
flock 9

WIT_BINDGEN_VERSION=0.60.0
WASM_TOOLS_VERSION=1.254.2

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "toolchain: rustup target add wasm32-wasip2" >&2
  rustup target add wasm32-wasip2 >&2
fi

install_crate() { # name version features
  local name=$1 version=$2 features=$3 bin=$4
  if [ -x "$TOOLS/bin/$bin" ] && "$TOOLS/bin/$bin" --version 2>/dev/null | grep -q "$version"; then return; fi
  echo "toolchain: cargo install $name@$version (slim)" >&2
  # Own target dir so that the workspace's build lock and cache stay untouched.
  CARGO_TARGET_DIR="$TOOLS/build" cargo install --quiet --locked --root "$TOOLS" "$name@$version" \
    --no-default-features --features "$features" >&2
}
install_crate wit-bindgen-cli "$WIT_BINDGEN_VERSION" c wit-bindgen
install_crate wasm-tools "$WASM_TOOLS_VERSION" component,validate,print,parse wasm-tools

# Python side: zig (C compiler for wasm32-wasi) and componentize-py, pinned in sdk/requirements.txt.
REQ="$ROOT/sdk/requirements.txt"
if ! cmp -s "$REQ" "$TOOLS/py/.requirements" 2>/dev/null; then
  echo "toolchain: pip install -r sdk/requirements.txt" >&2
  rm -rf "$TOOLS/py"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS/py" -r "$REQ" >&2
  cp "$REQ" "$TOOLS/py/.requirements"
fi

# JavaScript side: componentize-js, pinned by sdk/js/package-lock.json.
if ! cmp -s "$ROOT/sdk/js/package-lock.json" "$ROOT/sdk/js/node_modules/.package-lock.json.installed" 2>/dev/null; then
  # `npm install` with the lock file present installs exactly what it pins (npm 11's `npm ci`
  # rejects this lock file over optional platform packages that were never published).
  echo "toolchain: npm install (sdk/js, from package-lock.json)" >&2
  (cd "$ROOT/sdk/js" && npm install --no-audit --no-fund --loglevel=error >&2)
  cp "$ROOT/sdk/js/package-lock.json" "$ROOT/sdk/js/node_modules/.package-lock.json.installed"
fi
echo "toolchain: ready in $TOOLS" >&2
