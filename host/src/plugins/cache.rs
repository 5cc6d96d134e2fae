//! The on-disk cache of compiled plugins: `DIR/<sha256 of the wasm>-<engine hash>.cwasm`, so a
//! restart (or a second server, or the test suite) does not recompile. A CPython component takes
//! seconds to compile and ~20 ms to load from here.
//!
//! Loading native code from disk is the one `unsafe` operation in Tessera (see ADR 0006): the
//! files are written only by this module, atomically (temp file + rename), into a directory the
//! server creates with mode 0700, and named by the SHA-256 of the wasm they were compiled from
//! plus a hash of the engine configuration. Each file ends with a MAC over the compiled code
//! (BLAKE3 in keyed mode), keyed by a key derived from the master key; a file whose MAC does
//! not verify (tampered with, or written by a server with another master key) is never
//! deserialized: it is logged, removed and recompiled.
//!
//! The MAC follows the compiled code (`code || tag`), so that a verified file is mapped by
//! wasmtime as it is, not copied: the MAC is checked by streaming the file through it, and the same open file (not the path, which a rename could swap in between) is then
//! mapped through `/proc/self/fd`. A start with four plugins (Python and JavaScript among them,
//! 72 MB of compiled code) no longer reads them into the heap and copies them again.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Bytes of the MAC that ends every cache file.
const MAC_LEN: usize = 32;

/// The label of the cache's MAC key ([`crate::crypto::secrets::MasterKey::derive`]).
pub const MAC_LABEL: &[u8] = b"tessera compiled plugin cache v2 blake3";

/// A directory of compiled components.
#[derive(Clone)]
pub struct CompiledCache {
    dir: PathBuf,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CompiledCache {
    /// A cache in `dir` (created on first write), its files authenticated with `mac_key`
    /// (derive it from the master key with [`MAC_LABEL`]).
    pub fn new(dir: impl Into<PathBuf>, mac_key: [u8; 32]) -> Self {
        Self {
            dir: dir.into(),
            mac_key,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, engine: &Engine, sha256: &str) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        // The file layout: a BLAKE3 MAC after the code (format 3; format 2 had an HMAC-SHA256
        // there, format 1 put the HMAC first).
        3u8.hash(&mut h);
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
            match self.load(engine, &path) {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding an unusable compiled plugin; recompiling");
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
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        // Also when the directory existed before: only the server may write native code here.
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        // Unique per writer: two servers (or threads) may compile the same plugin at once.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{seq}", std::process::id()));
        let tag = blake3::keyed_hash(&self.mac_key, bytes);
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        std::io::Write::write_all(&mut file, tag.as_bytes())?;
        drop(file);
        std::fs::rename(&tmp, path)
    }

    /// Opens a cache file and maps it only if its MAC verifies.
    fn load(&self, engine: &Engine, path: &Path) -> Result<Component, String> {
        use std::io::Read as _;
        let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        let code_len = len
            .checked_sub(MAC_LEN as u64)
            .ok_or_else(|| "truncated file".to_string())?;
        let mut mac = blake3::Hasher::new_keyed(&self.mac_key);
        mac.update_reader((&file).take(code_len))
            .map_err(|e| format!("read: {e}"))?;
        // Fails if the file ended early: the code was shorter than its length said.
        let mut tag = [0u8; MAC_LEN];
        file.read_exact(&mut tag)
            .map_err(|e| format!("read: {e}"))?;
        // `blake3::Hash`'s equality is constant-time.
        if mac.finalize() != blake3::Hash::from_bytes(tag) {
            return Err("MAC mismatch: not written by this server's master key".into());
        }
        if Path::new("/proc/self/fd").is_dir() {
            deserialize_verified(engine, &file)
        } else {
            // No procfs (some sandboxes): read the verified file back and copy it in.
            use std::io::Seek as _;
            let mut code = vec![0u8; usize::try_from(code_len).map_err(|e| e.to_string())?];
            file.rewind().map_err(|e| e.to_string())?;
            file.read_exact(&mut code)
                .map_err(|e| format!("read: {e}"))?;
            deserialize_bytes(engine, &code)
        }
    }
}

/// Maps the file whose MAC was just verified, by its descriptor: a rename over its path since
/// then does not change what is mapped.
#[allow(unsafe_code)]
fn deserialize_verified(engine: &Engine, file: &std::fs::File) -> Result<Component, String> {
    use std::os::fd::AsRawFd as _;
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    // SAFETY: the file's contents (its trailing MAC aside, which wasmtime ignores) were
    // produced by `engine.precompile_component` of an engine with the same configuration and
    // written by `store` under this server's MAC key, as the MAC just checked over this open
    // file shows; `/proc/self/fd` reopens that same file, not whatever its path names now.
    // Cache files are never written in place (`store` renames a new file over the old), so
    // what is mapped stays what was verified; only a process with the server's own user could
    // change it, and that one could change the server itself.
    unsafe { Component::deserialize_file(engine, &by_fd) }.map_err(|e| format!("{e:#}"))
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
    // SAFETY: `bytes` were produced by `engine.precompile_component` of an engine with the same
    // configuration: either just now in this process, or read back from a cache file whose
    // MAC (keyed from the master key) verified, so they are what this server wrote
    // (the name carries the engine's compatibility hash; wasmtime re-checks the header).
    unsafe { Component::deserialize(engine, bytes) }.map_err(|e| format!("{e:#}"))
}
