//! The on-disk cache of compiled plugins: `DIR/<sha256 of the wasm>-<engine hash>.cwasm`, so a
//! restart (or a second server, or the test suite) does not recompile. A CPython component takes
//! seconds to compile and ~20 ms to load from here.
//!
//! Loading native code from disk is the one `unsafe` operation in Tessera (see ADR 0006): the
//! files are written only by this module, atomically (temp file + rename), into a directory the
//! server owns, and named by the SHA-256 of the wasm they were compiled from plus a hash of
//! the engine configuration; wasmtime refuses a file made by another version or configuration.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

impl CompiledCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        self.dir.join(format!("{sha256}-{:016x}.cwasm", h.finish()))
    }

    /// The compiled component for `wasm` (whose hex SHA-256 is `sha256`, already checked by the
    /// caller): from the cache when present and valid, else compiled and stored. Returns
    /// whether it came from the cache.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        wasm: &[u8],
    ) -> Result<(Component, bool), String> {
        let path = self.path_for(engine, sha256);
        if path.exists() {
            match load(engine, &path) {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding an unusable compiled plugin");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| format!("compile: {e:#}"))?;
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write the plugin cache");
        }
        // Load what was just compiled through the same path as a cache hit, so both are the
        // same code.
        let component = deserialize_bytes(engine, &compiled)?;
        Ok((component, false))
    }

    fn store(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        // Unique per writer: two servers (or threads) may compile the same plugin at once.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{seq}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}

#[allow(unsafe_code)]
fn load(engine: &Engine, path: &Path) -> Result<Component, String> {
    // SAFETY: the file was produced by `Engine::precompile_component` of an engine with the
    // same configuration (the name carries its compatibility hash; wasmtime re-checks the
    // header) and written atomically by `CompiledCache::store` into the server's own directory.
    unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e:#}"))
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
    // SAFETY: `bytes` were just produced by `engine.precompile_component` in this process.
    unsafe { Component::deserialize(engine, bytes) }.map_err(|e| format!("{e:#}"))
}
