#!/usr/bin/env bash
# Builds a Tessera plugin written in Python into a component (componentize-py, which embeds
# CPython and the standard library).
#
#   sdk/python/build.sh WORLD OUT.wasm APP_DIR [MODULE]
#
# APP_DIR holds MODULE.py (default `app`), which defines the hook's class, e.g. for the
# dynamic-scope-plugin world:
#
#   from wit_world import exports
#   class DynamicScope(exports.DynamicScope):
#       def dynamic_scope(self, ctx): return "{}"
#
# Raise `componentize_py_types.Err("why")` for a plugin error. See the generated API with
#   target/tools/py/bin/componentize-py -d wit -w WORLD bindings OUT_DIR
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 WORLD OUT.wasm APP_DIR [MODULE]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORLD=$1; OUT=$2; APP=$3; MODULE=${4:-app}
bash "$ROOT/sdk/toolchain.sh"
TOOLS="${TESSERA_TOOLS:-$ROOT/target/tools}"
export PYTHONPATH="$TOOLS/py${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$(dirname "$OUT")"
"$TOOLS/py/bin/componentize-py" -d "$ROOT/wit" -w "$WORLD" componentize -p "$APP" "$MODULE" -o "$OUT" >&2
