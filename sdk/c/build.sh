#!/usr/bin/env bash
# Builds a Tessera plugin written in C into a component.
#
#   sdk/c/build.sh WORLD OUT.wasm SOURCE.c [MORE.c ...]
#   sdk/c/build.sh headers OUT_DIR      # just the generated headers of every world, to read
#
# WORLD is one of update-token-plugin, revoke-token-plugin, dynamic-scope-plugin,
# introspection-plugin, end-session-plugin. The header `<world>.h` (underscores) is generated
# from wit/ by `wit-bindgen c` into a build directory on the include path. The compiler is zig's
# clang (PyPI `ziglang`); set TESSERA_CC="clang-19 --target=wasm32-wasi -fuse-ld=lld" to use
# Debian's clang + lld + wasi-libc instead. The core module is wrapped with
# `wasm-tools component new`. Toolchains come from sdk/toolchain.sh (run here first).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "${1:-}" = headers ] && [ $# -eq 2 ]; then
  bash "$ROOT/sdk/toolchain.sh"
  for world in update-token revoke-token dynamic-scope introspection end-session; do
    "${TESSERA_TOOLS:-$ROOT/target/tools}/bin/wit-bindgen" c "$ROOT/wit" --world "$world-plugin" \
      --out-dir "$2" >/dev/null 2>&1
  done
  echo "headers in $2" >&2
  exit 0
fi
if [ $# -lt 3 ]; then
  echo "usage: $0 WORLD OUT.wasm SOURCE.c [MORE.c ...]  |  $0 headers OUT_DIR" >&2
  exit 2
fi
WORLD=$1; OUT=$2; shift 2
bash "$ROOT/sdk/toolchain.sh"
TOOLS="${TESSERA_TOOLS:-$ROOT/target/tools}"
export PYTHONPATH="$TOOLS/py${PYTHONPATH:+:$PYTHONPATH}"
export ZIG_GLOBAL_CACHE_DIR="$TOOLS/zig-cache"
GEN="$(mktemp -d "${TMPDIR:-/tmp}/tessera-c.XXXXXX")"
trap 'rm -rf "$GEN"' EXIT
"$TOOLS/bin/wit-bindgen" c "$ROOT/wit" --world "$WORLD" --out-dir "$GEN/gen" >/dev/null
if [ -n "${TESSERA_CC:-}" ]; then
  # shellcheck disable=SC2206
  CC=($TESSERA_CC)
else
  CC=(python3 -m ziglang cc --target=wasm32-wasi)
fi
"${CC[@]}" -mexec-model=reactor -O2 -s -Wall -Werror -Wl,-z,stack-size=262144 -I"$GEN/gen" \
  "$@" "$GEN"/gen/*.c "$GEN"/gen/*_component_type.o -o "$GEN/core.wasm"
mkdir -p "$(dirname "$OUT")"
"$TOOLS/bin/wasm-tools" component new "$GEN/core.wasm" -o "$OUT"
