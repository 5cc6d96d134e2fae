#!/usr/bin/env node
// Builds a Tessera plugin written in JavaScript into a component (componentize-js, which embeds
// SpiderMonkey).
//
//   node sdk/js/build.mjs WORLD SOURCE.js OUT.wasm
//
// SOURCE.js is an ES module exporting the hook interface as an object named after it in
// camelCase, e.g. for the introspection-plugin world:
//
//   export const introspection = { introspection(ctx) { return { tag: 'unchanged' }; } };
//
// Records arrive with camelCase fields, enums as their WIT names ('access-token'), options as
// value or undefined, variants as { tag, val }. Throw a *string* for a plugin error (a thrown
// Error traps, which the server also treats as a plugin error). Host imports:
//   import { log, config, configAll, now } from 'tessera:plugin/host@0.1.0';
// Run sdk/toolchain.sh first (it installs componentize-js from package-lock.json).
import { componentize } from '@bytecodealliance/componentize-js';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [world, source, out] = process.argv.slice(2);
if (!world || !source || !out) {
  console.error('usage: node sdk/js/build.mjs WORLD SOURCE.js OUT.wasm');
  process.exit(2);
}
const sourcePath = resolve(source);
const outPath = resolve(out);
const witPath = resolve(dirname(fileURLToPath(import.meta.url)), '../../wit');
// componentize-js reads the WIT folder through preview2-shim, whose 0.26 line starts with no
// preopened directories: grant exactly the WIT folder.
_setPreopens({ [witPath]: witPath });
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: world,
  // No wasi:http: plugins get nothing but the host interface and a sealed WASI.
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(outPath), { recursive: true });
await writeFile(outPath, component);
