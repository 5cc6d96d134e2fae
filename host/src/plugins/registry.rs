//! The plugin registry: reads `NAME.toml` + `NAME.wasm` pairs from the plugins directory,
//! checks and prepares them off the request path, and publishes an immutable [`PluginSet`]
//! through an atomic pointer. A version that fails any check is refused with its error kept in
//! the status; the previous version keeps serving. Removing both files unloads a plugin.

use super::cache::CompiledCache;
use super::canary::Canary;
use super::engine::{self, PluginIdentity, Prepared};
use super::manifest::{self, HookKind, Manifest};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A plugin that passed every check and is being called.
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Manifest,
    /// Hex SHA-256 of its wasm.
    pub sha256: String,
    /// Name, version and configuration as host calls see them.
    pub identity: Arc<PluginIdentity>,
    /// The compiled component.
    pub prepared: Arc<Prepared>,
    /// Calls and failures, shared across the plugin's versions.
    pub counters: Arc<Counters>,
}

/// Per-plugin call counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that failed (trap, timeout, over-limit, oversize, invalid or `err` result).
    pub errors: AtomicU64,
    /// The latest calls' durations and the last failure.
    recent: std::sync::Mutex<Recent>,
}

/// How many of the latest call durations the percentiles are taken over.
const LATENCY_WINDOW: usize = 1024;

#[derive(Debug, Default)]
struct Recent {
    /// Durations in µs, a ring of the latest [`LATENCY_WINDOW`].
    micros: Vec<u32>,
    next: usize,
    last_error: Option<String>,
}

impl Counters {
    /// Counts one call that took `took` and failed with `error`, if it did.
    pub fn record(&self, took: std::time::Duration, error: Option<&str>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if error.is_some() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        if let Ok(mut r) = self.recent.lock() {
            if r.micros.len() < LATENCY_WINDOW {
                r.micros.push(us);
            } else {
                let i = r.next;
                r.micros[i] = us;
            }
            r.next = (r.next + 1) % LATENCY_WINDOW;
            if let Some(e) = error {
                r.last_error = Some(e.to_string());
            }
        }
    }

    /// The median and 99th percentile (µs) of the latest calls, and the last call failure.
    pub fn recent(&self) -> (Option<u64>, Option<u64>, Option<String>) {
        let Ok(r) = self.recent.lock() else {
            return (None, None, None);
        };
        let mut sorted = r.micros.clone();
        let last_error = r.last_error.clone();
        drop(r);
        if sorted.is_empty() {
            return (None, None, last_error);
        }
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
            u64::from(sorted[i])
        };
        (Some(at(0.50)), Some(at(0.99)), last_error)
    }
}

/// The plugins of every hook, each list in call order (priority, then name).
#[derive(Default)]
pub struct PluginSet {
    by_hook: [Vec<Arc<LoadedPlugin>>; 5],
}

impl PluginSet {
    /// The enabled plugins of `hook`, in call order.
    pub fn for_hook(&self, hook: HookKind) -> &[Arc<LoadedPlugin>] {
        &self.by_hook[hook.index()]
    }
}

/// One plugin's state as `tessera plugin list` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PluginStatus {
    /// Plugin name.
    pub name: String,
    /// `loaded`, `disabled` or `refused`.
    pub state: String,
    /// Hook, when known.
    pub hook: Option<String>,
    /// Manifest version of the version serving (or refused, when none serves).
    pub version: Option<String>,
    /// SHA-256 of the serving wasm.
    pub sha256: Option<String>,
    /// WIT package version the serving component targets.
    pub wit_version: Option<String>,
    /// Call order position within the hook.
    pub priority: Option<i32>,
    /// The last error: why the newest files were refused (the previous version, if any,
    /// keeps serving).
    pub last_error: Option<String>,
    /// Whether the serving version's compiled code came from the on-disk cache.
    pub from_cache: Option<bool>,
    /// How long compiling (or loading from the cache) the serving version took, in ms.
    pub compile_ms: Option<u64>,
    /// Calls so far.
    pub calls: u64,
    /// Failed calls so far.
    pub errors: u64,
    /// Median duration of the latest calls, µs.
    #[serde(default)]
    pub p50_us: Option<u64>,
    /// 99th-percentile duration of the latest calls, µs.
    #[serde(default)]
    pub p99_us: Option<u64>,
    /// Why the last failed call failed.
    #[serde(default)]
    pub last_call_error: Option<String>,
    /// When the serving version finished loading here (Unix seconds): the end of its
    /// deployment on this server.
    #[serde(default)]
    pub loaded_at: Option<i64>,
}

struct Entry {
    loaded: Option<Arc<LoadedPlugin>>,
    /// When the serving version finished loading (Unix seconds).
    loaded_at: Option<i64>,
    disabled: Option<Manifest>,
    last_error: Option<String>,
    counters: Arc<Counters>,
}

/// Owns the current [`PluginSet`] and the status of every plugin name seen.
pub struct Registry {
    dir: PathBuf,
    cache: Option<CompiledCache>,
    current: ArcSwap<PluginSet>,
    entries: tokio::sync::Mutex<BTreeMap<String, Entry>>,
    status: std::sync::Mutex<Vec<(PluginStatus, Arc<Counters>)>>,
    generation: AtomicU64,
    status_file: Option<PathBuf>,
    http: Option<Arc<crate::outbound::PluginHttp>>,
    canaries: ArcSwap<BTreeMap<String, Arc<Canary>>>,
}

/// What the server writes to its status file after each reload (read by `plugin list`).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct StatusReport {
    /// The server's process id.
    pub pid: u32,
    /// When the report was written (Unix seconds).
    pub written_at: i64,
    /// The plugins directory.
    pub dir: PathBuf,
    /// Every plugin seen.
    pub plugins: Vec<PluginStatus>,
}

impl Registry {
    /// An empty registry over `dir`, compiling through `cache` when given.
    pub fn new(dir: impl Into<PathBuf>, cache: Option<CompiledCache>) -> Self {
        Self {
            dir: dir.into(),
            cache,
            current: ArcSwap::from_pointee(PluginSet::default()),
            entries: tokio::sync::Mutex::new(BTreeMap::new()),
            status: std::sync::Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            status_file: None,
            http: None,
            canaries: ArcSwap::from_pointee(BTreeMap::new()),
        }
    }

    /// Plugins whose manifest grants outbound HTTP send it through `client`. Without one,
    /// every plugin's `fetch` is denied.
    pub fn with_http(mut self, client: Arc<crate::outbound::PluginHttp>) -> Self {
        self.http = Some(client);
        self
    }

    /// Also writes the status to `path` after every reload (for `tessera plugin list`).
    pub fn with_status_file(mut self, path: PathBuf) -> Self {
        self.status_file = Some(path);
        self
    }

    /// The compiled-code cache, when there is one.
    pub fn cache(&self) -> Option<&CompiledCache> {
        self.cache.as_ref()
    }

    /// The watched directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The plugins serving now. Callers keep the returned snapshot for the whole request, so a
    /// reload never changes a plugin under a call.
    pub fn current(&self) -> Arc<PluginSet> {
        self.current.load_full()
    }

    /// How many reloads have been published (tests wait on it).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Status of every plugin name seen, sorted by name.
    pub fn status(&self) -> Vec<PluginStatus> {
        let list = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        // Counters move with every call; read them fresh.
        list.into_iter()
            .map(|(mut s, counters)| {
                s.calls = counters.calls.load(Ordering::Relaxed);
                s.errors = counters.errors.load(Ordering::Relaxed);
                (s.p50_us, s.p99_us, s.last_call_error) = counters.recent();
                s
            })
            .collect()
    }

    /// Re-reads the directory: loads new and changed plugins, unloads removed ones, keeps the
    /// previous version of any plugin whose new files fail a check. Returns the names whose
    /// newest files were refused.
    pub async fn reload(&self) -> Vec<String> {
        let mut entries = self.entries.lock().await;
        let names = match scan(&self.dir) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the plugins directory; keeping the current plugins");
                return Vec::new();
            }
        };
        // Removed: neither file is left.
        entries.retain(|name, _| {
            let keep = names.contains(name);
            if !keep {
                tracing::info!(plugin = name.as_str(), "plugin files removed; unloaded");
            }
            keep
        });
        let mut refused = Vec::new();
        for name in &names {
            let entry = entries.entry(name.clone()).or_insert_with(|| Entry {
                loaded: None,
                loaded_at: None,
                disabled: None,
                last_error: None,
                counters: Arc::new(Counters::default()),
            });
            match self.load_one(name, entry).await {
                Ok(()) => entry.last_error = None,
                Err(e) => {
                    let serving = entry
                        .loaded
                        .as_ref()
                        .map(|p| format!("version {} keeps serving", p.manifest.version))
                        .unwrap_or_else(|| "no version is serving".into());
                    tracing::error!(plugin = name.as_str(), error = %e, "plugin refused; {serving}");
                    entry.last_error = Some(e);
                    refused.push(name.clone());
                }
            }
        }
        self.publish(&entries);
        refused
    }

    /// The canary beside live plugin `name`, if one runs.
    pub fn canary(&self, name: &str) -> Option<Arc<Canary>> {
        let all = self.canaries.load();
        if all.is_empty() {
            return None;
        }
        all.get(name).cloned()
    }

    /// Every canary running, by live plugin name.
    pub fn canaries(&self) -> Arc<BTreeMap<String, Arc<Canary>>> {
        self.canaries.load_full()
    }

    /// Puts `canaries` in place of the ones running.
    pub fn set_canaries(&self, canaries: BTreeMap<String, Arc<Canary>>) {
        self.canaries.store(Arc::new(canaries));
    }

    /// Checks and prepares a canary version of plugin `name`: manifest text `manifest`,
    /// component `wasm`, sampling `sample_percent` of calls.
    pub async fn prepare_canary(
        &self,
        name: &str,
        manifest: &str,
        wasm: Vec<u8>,
        sample_percent: u8,
    ) -> Result<Canary, String> {
        let manifest = Manifest::parse(manifest, name)?;
        let sha = crate::crypto::secrets::sha256_hex(&wasm);
        if !sha.eq_ignore_ascii_case(&manifest.sha256) {
            return Err(format!(
                "sha256 mismatch: the canary component is {sha}, its manifest says {}",
                manifest.sha256
            ));
        }
        let identity = self.identity(name, &manifest);
        let prepared = engine::prepare(
            Arc::new(wasm),
            &sha,
            Some(manifest.hook),
            identity.clone(),
            manifest.limits,
            self.cache.as_ref(),
        )
        .await?;
        Ok(Canary::new(
            Arc::new(LoadedPlugin {
                manifest,
                sha256: sha,
                identity,
                prepared: Arc::new(prepared),
                counters: Arc::default(),
            }),
            sample_percent,
        ))
    }

    /// Name, version, configuration and HTTP access as host calls of `manifest` see them.
    fn identity(&self, name: &str, manifest: &Manifest) -> Arc<PluginIdentity> {
        Arc::new(PluginIdentity {
            name: name.to_string(),
            version: manifest.version.clone(),
            config: manifest.config_text().into_iter().collect(),
            http: match (&manifest.http, &self.http) {
                (Some(grant), Some(client)) => Some(engine::HttpAccess {
                    grant: grant.clone(),
                    client: client.clone(),
                }),
                _ => None,
            },
        })
    }

    /// Checks the files of `name` and, when they differ from what serves, prepares them.
    async fn load_one(&self, name: &str, entry: &mut Entry) -> Result<(), String> {
        let toml_path = self.dir.join(format!("{name}.toml"));
        let wasm_path = self.dir.join(format!("{name}.wasm"));
        let text = match std::fs::read_to_string(&toml_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("{name}.wasm has no manifest {name}.toml"));
            }
            Err(e) => return Err(format!("reading {name}.toml: {e}")),
        };
        let manifest = Manifest::parse(&text, name)?;
        if !manifest.enabled {
            if entry.loaded.take().is_some() {
                tracing::info!(plugin = name, "plugin disabled; unloaded");
            }
            entry.disabled = Some(manifest);
            return Ok(());
        }
        let wasm = match std::fs::read(&wasm_path) {
            Ok(w) => w,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("{name}.toml has no component {name}.wasm"));
            }
            Err(e) => return Err(format!("reading {name}.wasm: {e}")),
        };
        let sha = crate::crypto::secrets::sha256_hex(&wasm);
        if !sha.eq_ignore_ascii_case(&manifest.sha256) {
            return Err(format!(
                "sha256 mismatch: {name}.wasm is {sha}, the manifest says {}",
                manifest.sha256
            ));
        }
        if let Some(cur) = &entry.loaded
            && cur.sha256 == sha
            && cur.manifest == manifest
        {
            return Ok(());
        }
        let identity = self.identity(name, &manifest);
        // The same wasm with a new manifest (configuration, limits, order) needs no compile.
        let prepared = match &entry.loaded {
            Some(cur) if cur.sha256 == sha && cur.prepared.hook() == manifest.hook => {
                cur.prepared.clone()
            }
            _ => {
                let p = engine::prepare(
                    Arc::new(wasm),
                    &sha,
                    Some(manifest.hook),
                    identity.clone(),
                    manifest.limits,
                    self.cache.as_ref(),
                )
                .await?;
                tracing::info!(
                    plugin = name,
                    version = manifest.version.as_str(),
                    hook = %manifest.hook,
                    wit = p.inspection.wit_version.as_str(),
                    compile_ms = p.compile_time.as_millis() as u64,
                    from_cache = p.from_cache,
                    "plugin loaded"
                );
                Arc::new(p)
            }
        };
        entry.disabled = None;
        entry.loaded_at = Some(crate::clock::Clock::now(&crate::clock::SystemClock));
        entry.loaded = Some(Arc::new(LoadedPlugin {
            manifest,
            sha256: sha,
            identity,
            prepared,
            counters: entry.counters.clone(),
        }));
        Ok(())
    }

    fn publish(&self, entries: &BTreeMap<String, Entry>) {
        let mut set = PluginSet::default();
        let mut status = Vec::new();
        for (name, e) in entries {
            if let Some(p) = &e.loaded {
                set.by_hook[p.manifest.hook.index()].push(p.clone());
            }
            let m = e
                .loaded
                .as_ref()
                .map(|p| &p.manifest)
                .or(e.disabled.as_ref());
            status.push((
                PluginStatus {
                    name: name.clone(),
                    state: if e.loaded.is_some() {
                        "loaded"
                    } else if e.disabled.is_some() {
                        "disabled"
                    } else {
                        "refused"
                    }
                    .into(),
                    hook: m.map(|m| m.hook.to_string()),
                    version: m.map(|m| m.version.clone()),
                    sha256: e.loaded.as_ref().map(|p| p.sha256.clone()),
                    wit_version: e
                        .loaded
                        .as_ref()
                        .map(|p| p.prepared.inspection.wit_version.clone()),
                    priority: m.map(|m| m.priority),
                    from_cache: e.loaded.as_ref().map(|p| p.prepared.from_cache),
                    compile_ms: e
                        .loaded
                        .as_ref()
                        .map(|p| p.prepared.compile_time.as_millis() as u64),
                    last_error: e.last_error.clone(),
                    calls: e.counters.calls.load(Ordering::Relaxed),
                    errors: e.counters.errors.load(Ordering::Relaxed),
                    p50_us: None,
                    p99_us: None,
                    last_call_error: None,
                    loaded_at: e.loaded.as_ref().and(e.loaded_at),
                },
                e.counters.clone(),
            ));
        }
        for list in &mut set.by_hook {
            list.sort_by(|a, b| {
                (a.manifest.priority, &a.manifest.name)
                    .cmp(&(b.manifest.priority, &b.manifest.name))
            });
        }
        self.current.store(Arc::new(set));
        if let Some(path) = &self.status_file {
            let report = StatusReport {
                pid: std::process::id(),
                written_at: crate::clock::Clock::now(&crate::clock::SystemClock),
                dir: self.dir.clone(),
                plugins: status.iter().map(|(s, _)| s.clone()).collect(),
            };
            let tmp = path.with_extension("json.tmp");
            let written = serde_json::to_vec_pretty(&report)
                .map_err(std::io::Error::other)
                .and_then(|b| std::fs::write(&tmp, b))
                .and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the plugin status file");
            }
        }
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Plugin names present in `dir`: stems of `*.toml` and `*.wasm` files with valid names.
fn scan(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let path = entry?.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if (ext == "toml" || ext == "wasm") && manifest::is_valid_name(stem) {
            names.insert(stem.to_string());
        }
    }
    Ok(names)
}
