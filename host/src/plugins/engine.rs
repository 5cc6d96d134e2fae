//! The one wasmtime engine (component model, pooling allocator, epoch interruption), the per-call
//! `Store` (deadline, memory cap, empty WASI), and turning wasm bytes into a checked, ready
//! [`Prepared`] plugin.

use super::bindings::{self, host};
use super::cache::CompiledCache;
use super::manifest::{HookKind, HttpGrant, Limits};
use crate::outbound::{PluginHttp, PluginHttpError, PluginRequest};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Config, Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the epoch advances; deadlines are accurate to about one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Concurrent plugin instances the pool holds (calls beyond it wait for a slot).
pub const POOL_INSTANCES: u32 = 512;

/// One permit per pool slot: a call beyond the pool waits for one, within its own deadline.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(POOL_INSTANCES as usize);

/// Pool slots not in use right now (for status and tests).
pub fn free_slots() -> usize {
    SLOTS.available_permits()
}

/// The process-wide engine, created on first use with its epoch ticker thread. One engine for
/// every server in the process: the pooling allocator reserves address space per slot, and
/// compiled code is only valid for the engine (configuration) that made it.
pub fn shared() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            limit_compile_threads();
            let engine = Engine::new(&config()).map_err(|e| format!("wasmtime engine: {e:#}"))?;
            let ticker = engine.weak();
            std::thread::Builder::new()
                .name("tessera-plugin-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticker.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("epoch ticker thread: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Compiling a plugin (first load, hot reload) uses every core but one: on a small machine a
/// compile on all cores starved request handling, so calls of the running version missed their
/// 50 ms deadlines while its replacement compiled. wasmtime compiles on rayon's global pool.
fn limit_compile_threads() {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1);
    // Fails only when the global pool exists already; then that configuration stays.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tessera-plugin-compile-{i}"))
        .build_global();
}

fn config() -> Config {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        // Components made by componentize-py / componentize-js hold several core instances,
        // memories and tables (the language runtime, libc, the WASI adapter).
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_memories_per_module(2)
        .max_tables_per_module(4)
        .max_memory_size((super::manifest::MAX_MEMORY_MIB as usize) << 20)
        .table_elements(200_000)
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(4 << 20)
        // Keep up to 1 MiB of each freed memory (a small plugin's whole memory) resident, so
        // the next call on that slot reuses warm pages instead of faulting them in again.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        // Linux 6.7+: reset only the pages a call dirtied (PAGEMAP_SCAN) instead of memsetting
        // the whole resident megabyte on every call; elsewhere the memset stays.
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool))
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .parallel_compilation(true);
    c
}

/// Identity of a plugin inside log lines and host calls.
#[derive(Debug)]
pub struct PluginIdentity {
    /// Manifest name (or the file name for `plugin test`).
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// Configuration properties, sorted by key.
    pub config: BTreeMap<String, String>,
    /// Outbound HTTP the operator granted (manifest `[http]`); none: `fetch` is denied.
    pub http: Option<HttpAccess>,
}

/// A plugin's outbound HTTP: what its manifest allows, and the client requests go through.
#[derive(Debug, Clone)]
pub struct HttpAccess {
    /// The manifest's `[http]`.
    pub grant: HttpGrant,
    /// The server's client for plugin requests.
    pub client: Arc<PluginHttp>,
}

/// Everything a call's `Store` carries.
pub struct CallState {
    identity: Arc<PluginIdentity>,
    now: i64,
    deadline: Instant,
    limiter: Limiter,
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

/// Memory and table caps for one call, and the peak memory it reached.
struct Limiter {
    memory_cap: usize,
    memory_total: usize,
    memory_peak: usize,
}

/// Table elements any one table may grow to.
const TABLE_ELEMENTS_CAP: usize = 200_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.memory_total - current.min(self.memory_total) + desired;
        if total > self.memory_cap {
            return Err(wasmtime::Error::msg(format!(
                "memory limit exceeded: the plugin asked for {} KiB, its cap is {} KiB",
                total >> 10,
                self.memory_cap >> 10
            )));
        }
        self.memory_total = total;
        self.memory_peak = self.memory_peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_CAP)
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Built on first use: components that do not import WASI never pay for it.
        let ctx = self.wasi.get_or_insert_with(sealed_wasi);
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// A WASI context that grants nothing: no preopened directories, no environment, no arguments,
/// no network (not even name lookup), stdin empty, stdout/stderr discarded. Clocks and
/// randomness stay (language runtimes need them to start).
fn sealed_wasi() -> WasiCtx {
    let mut b = WasiCtx::builder();
    b.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b.build()
}

/// Longest log line a plugin may write; longer lines are cut.
const LOG_LINE_MAX: usize = 4096;

impl host::Host for CallState {
    fn log(&mut self, level: host::Level, mut message: String) {
        if message.len() > LOG_LINE_MAX {
            let mut cut = LOG_LINE_MAX;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let message = escape_control(&message);
        let (plugin, version) = (&self.identity.name, &self.identity.version);
        match level {
            host::Level::Trace => tracing::trace!(plugin, version, "{message}"),
            host::Level::Debug => tracing::debug!(plugin, version, "{message}"),
            host::Level::Info => tracing::info!(plugin, version, "{message}"),
            host::Level::Warn => tracing::warn!(plugin, version, "{message}"),
            host::Level::Error => tracing::error!(plugin, version, "{message}"),
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.identity.config.get(&key).cloned()
    }

    fn config_all(&mut self) -> Vec<(String, String)> {
        self.identity
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn now(&mut self) -> i64 {
        self.now
    }

    async fn fetch(
        &mut self,
        request: host::HttpRequest,
    ) -> Result<host::HttpResponse, host::HttpError> {
        let identity = self.identity.clone();
        let Some(access) = &identity.http else {
            return Err(host::HttpError::Denied(
                "this plugin has no outbound HTTP (its manifest has no [http] section)".into(),
            ));
        };
        let request = PluginRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        match access
            .client
            .send(request, &access.grant, self.deadline)
            .await
        {
            Ok(r) => Ok(host::HttpResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => {
                let (plugin, version) = (&identity.name, &identity.version);
                tracing::debug!(plugin, version, error = ?e, "plugin HTTP request failed");
                Err(match e {
                    PluginHttpError::Denied(why) => host::HttpError::Denied(why),
                    PluginHttpError::Timeout => host::HttpError::Timeout,
                    PluginHttpError::TooLarge => host::HttpError::TooLarge,
                    PluginHttpError::Failed(why) => host::HttpError::Failed(why),
                })
            }
        }
    }
}

/// The 0.1 host interface: the same functions as today's, without `fetch`.
impl bindings::v0_1::tessera::plugin::host::Host for CallState {
    fn log(&mut self, level: bindings::v0_1::tessera::plugin::host::Level, message: String) {
        use bindings::v0_1::tessera::plugin::host::Level as Old;
        let level = match level {
            Old::Trace => host::Level::Trace,
            Old::Debug => host::Level::Debug,
            Old::Info => host::Level::Info,
            Old::Warn => host::Level::Warn,
            Old::Error => host::Level::Error,
        };
        host::Host::log(self, level, message);
    }

    fn config(&mut self, key: String) -> Option<String> {
        host::Host::config(self, key)
    }

    fn config_all(&mut self) -> Vec<(String, String)> {
        host::Host::config_all(self)
    }

    fn now(&mut self) -> i64 {
        self.now
    }
}

impl bindings::v0_1::tessera::plugin::types::Host for CallState {}

/// A plugin's log text with control characters escaped (`\n` → `\\n`, others `\\u{..}`),
/// so that it cannot forge lines or terminal sequences in plain-text logs.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl bindings::types::Host for CallState {}

/// The linker every plugin is instantiated with: WASI p2 (sealed per call) and our `host`, at
/// the current WIT version and the previous one.
fn linker(engine: &Engine) -> Result<Linker<CallState>, String> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| format!("linker: {e:#}"))?;
    host::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(&mut linker, |s| s)
        .map_err(|e| format!("linker: {e:#}"))?;
    bindings::v0_1::tessera::plugin::host::add_to_linker::<
        CallState,
        wasmtime::component::HasSelf<CallState>,
    >(&mut linker, |s| s)
    .map_err(|e| format!("linker: {e:#}"))?;
    Ok(linker)
}

/// The export indices of the one hook a plugin implements.
#[derive(Clone)]
pub enum HookExports {
    /// update-token
    UpdateToken(bindings::update_token::GuestIndices),
    /// revoke-token
    RevokeToken(bindings::revoke_token::GuestIndices),
    /// dynamic-scope
    DynamicScope(bindings::dynamic_scope::GuestIndices),
    /// introspection
    Introspection(bindings::introspection::GuestIndices),
    /// end-session
    EndSession(bindings::end_session::GuestIndices),
    /// update-token, WIT 0.1
    UpdateTokenV01(bindings::v0_1::exports::tessera::plugin::update_token::GuestIndices),
    /// revoke-token, WIT 0.1
    RevokeTokenV01(bindings::v0_1::exports::tessera::plugin::revoke_token::GuestIndices),
    /// dynamic-scope, WIT 0.1
    DynamicScopeV01(bindings::v0_1::exports::tessera::plugin::dynamic_scope::GuestIndices),
    /// introspection, WIT 0.1
    IntrospectionV01(bindings::v0_1::exports::tessera::plugin::introspection::GuestIndices),
    /// end-session, WIT 0.1
    EndSessionV01(bindings::v0_1::exports::tessera::plugin::end_session::GuestIndices),
}

/// What a component is, read from its type: the hook it exports and at which WIT version,
/// and what it imports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The hook.
    pub hook: HookKind,
    /// The WIT package version of the export, e.g. `0.1.0`.
    pub wit_version: String,
    /// The world it targets (`<hook>-plugin`).
    pub world: String,
    /// Every import name.
    pub imports: Vec<String>,
    /// Every export name.
    pub exports: Vec<String>,
}

/// A compiled, checked plugin ready to be called: fresh instances come from `pre`.
pub struct Prepared {
    /// What the component is.
    pub inspection: Inspection,
    pre: InstancePre<CallState>,
    exports: HookExports,
    /// How long compiling (or loading from the cache) took.
    pub compile_time: Duration,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// Instances made ahead of their call and never called (see [`Prepared::batch`]).
    spare: std::sync::Mutex<Vec<Fresh>>,
    /// Called instances waiting to be dropped together.
    retired: std::sync::Mutex<Vec<Fresh>>,
    /// How many instances are made, and dropped, at once: several for a small plugin, one for a
    /// large one (see [`batch_for`]).
    batch: usize,
}

/// A fresh instance of a plugin: its own store, never called before its one call, and the
/// pool slot it holds.
struct Fresh {
    store: Store<CallState>,
    instance: wasmtime::component::Instance,
    _slot: Option<tokio::sync::SemaphorePermit<'static>>,
}

/// Memory a plugin's spare instances may hold, and the most instances made at once.
///
/// Every call still gets an instance nobody has called (the isolation rule), but making a few
/// in a row and dropping a few in a row keeps wasmtime's code and data in the CPU caches for
/// all of them: measured on the benchmark machine, a small Rust plugin's instantiate + call +
/// teardown cost about 20 µs in a tight loop and 45–75 µs when interleaved one by one with
/// request handling. Large plugins (Python, JavaScript runtimes) get a batch of one, so an idle
/// server holds no spare copies of them.
const SPARE_BYTES: usize = 8 << 20;
const MAX_BATCH: usize = 8;

/// The batch for a plugin whose fresh instance uses `memory` bytes of linear memory.
fn batch_for(memory: usize) -> usize {
    (SPARE_BYTES / memory.max(64 << 10)).clamp(1, MAX_BATCH)
}

/// Host WIT versions a plugin's export may target: the current minor (0.2) and the previous
/// one (0.1).
pub fn supported_version(v: &str) -> bool {
    let mut parts = v.split('.');
    let (Some(major), Some(minor), Some(_patch), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    major == "0" && matches!(minor, "1" | "2")
}

/// Whether `v` (a supported version) is the previous minor, 0.1.
fn is_v0_1(v: &str) -> bool {
    v.starts_with("0.1.")
}

/// Reads the hook, WIT version and imports of `component`.
pub fn inspect(engine: &Engine, component: &Component) -> Result<Inspection, String> {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<(String, ComponentItem)> = ty
        .exports(engine)
        .map(|(n, i)| (n.to_string(), i.ty))
        .collect();
    let export_names: Vec<String> = exports.iter().map(|(n, _)| n.clone()).collect();
    let mut found = Vec::new();
    for (name, item) in &exports {
        let Some(rest) = name.strip_prefix("tessera:plugin/") else {
            continue;
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        let Some(hook) = HookKind::parse(iface) else {
            continue;
        };
        if !matches!(item, ComponentItem::ComponentInstance(_)) {
            return Err(format!("export {name} is not an interface instance"));
        }
        found.push((hook, version.to_string()));
    }
    match found.as_slice() {
        [] => Err(format!(
            "wrong world: the component exports no Tessera hook (exports: [{}]); a plugin \
             targets one of the worlds update-token-plugin, revoke-token-plugin, \
             dynamic-scope-plugin, introspection-plugin, end-session-plugin of \
             tessera:plugin@{}",
            export_names.join(", "),
            bindings::WIT_VERSION
        )),
        [(hook, version)] => {
            if !supported_version(version) {
                return Err(format!(
                    "unsupported WIT version: the component exports tessera:plugin/{hook}@{version}; \
                     this server supports tessera:plugin@0.2.x and @0.1.x"
                ));
            }
            for import in &imports {
                let ok = import.starts_with("tessera:plugin/host@")
                    || import.starts_with("tessera:plugin/types@")
                    || import.starts_with("wasi:");
                if !ok {
                    return Err(format!(
                        "the component imports {import}, which the host does not provide \
                         (plugins may import tessera:plugin/host and WASI 0.2)"
                    ));
                }
            }
            Ok(Inspection {
                hook: *hook,
                wit_version: version.clone(),
                world: format!("{hook}-plugin"),
                imports,
                exports: export_names,
            })
        }
        many => Err(format!(
            "the component exports {} hooks; a plugin implements exactly one",
            many.len()
        )),
    }
}

/// Compiles (or loads from `cache`) and checks `wasm`: it is a component, exports exactly one
/// hook at a supported WIT version, imports nothing the host lacks, and instantiates within
/// `limits`. When `expect` is given the hook must be that one.
pub async fn prepare(
    wasm: Arc<Vec<u8>>,
    sha256: &str,
    expect: Option<HookKind>,
    identity: Arc<PluginIdentity>,
    limits: Limits,
    cache: Option<&CompiledCache>,
) -> Result<Prepared, String> {
    let engine = shared()?;
    if !looks_like_component(&wasm) {
        return Err(if wasm.starts_with(b"\0asm") {
            "not a component: this is a core WebAssembly module; wrap it with \
             `wasm-tools component new` (see sdk/c/README.md)"
                .into()
        } else {
            "not a component: the file is not WebAssembly".into()
        });
    }
    let started = Instant::now();
    let cache = cache.cloned();
    let sha = sha256.to_string();
    let (component, from_cache) = tokio::task::spawn_blocking(move || match cache {
        Some(c) => c.load_or_compile(engine, &sha, &wasm),
        None => Component::new(engine, &*wasm)
            .map(|c| (c, false))
            .map_err(|e| format!("compile: {e:#}")),
    })
    .await
    .map_err(|e| format!("compile task: {e}"))??;
    let compile_time = started.elapsed();
    let inspection = inspect(engine, &component)?;
    if let Some(h) = expect
        && h != inspection.hook
    {
        return Err(format!(
            "wrong world: the manifest says hook {h}, the component exports {}",
            inspection.hook
        ));
    }
    let linker = linker(engine)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("link: {e:#}"))?;
    let exports = if is_v0_1(&inspection.wit_version) {
        use bindings::v0_1::exports::tessera::plugin as old;
        match inspection.hook {
            HookKind::UpdateToken => {
                old::update_token::GuestIndices::new(&pre).map(HookExports::UpdateTokenV01)
            }
            HookKind::RevokeToken => {
                old::revoke_token::GuestIndices::new(&pre).map(HookExports::RevokeTokenV01)
            }
            HookKind::DynamicScope => {
                old::dynamic_scope::GuestIndices::new(&pre).map(HookExports::DynamicScopeV01)
            }
            HookKind::Introspection => {
                old::introspection::GuestIndices::new(&pre).map(HookExports::IntrospectionV01)
            }
            HookKind::EndSession => {
                old::end_session::GuestIndices::new(&pre).map(HookExports::EndSessionV01)
            }
        }
    } else {
        match inspection.hook {
            HookKind::UpdateToken => {
                bindings::update_token::GuestIndices::new(&pre).map(HookExports::UpdateToken)
            }
            HookKind::RevokeToken => {
                bindings::revoke_token::GuestIndices::new(&pre).map(HookExports::RevokeToken)
            }
            HookKind::DynamicScope => {
                bindings::dynamic_scope::GuestIndices::new(&pre).map(HookExports::DynamicScope)
            }
            HookKind::Introspection => {
                bindings::introspection::GuestIndices::new(&pre).map(HookExports::Introspection)
            }
            HookKind::EndSession => {
                bindings::end_session::GuestIndices::new(&pre).map(HookExports::EndSession)
            }
        }
    }
    .map_err(|e| format!("wrong world: {e:#}"))?;
    let mut prepared = Prepared {
        inspection,
        pre,
        exports,
        compile_time,
        from_cache,
        spare: std::sync::Mutex::new(Vec::new()),
        retired: std::sync::Mutex::new(Vec::new()),
        batch: 1,
    };
    // It must instantiate (start functions, initialisers) within its own limits. What that
    // instance uses decides the batch; it is dropped, so an idle plugin holds no slot.
    let slot = SLOTS.acquire().await.ok();
    let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
    let checked = prepared
        .instantiate(identity, limits, deadline, slot)
        .await
        .map_err(|e| format!("instantiate: {e}"))?;
    prepared.batch = batch_for(checked.store.data().limiter.memory_total);
    Ok(prepared)
}

/// Whether `bytes` start like a component (as opposed to a core module or something else).
fn looks_like_component(bytes: &[u8]) -> bool {
    // Preamble: magic, then version 0x0d 0x00 and layer 0x01 0x00 for components (core modules
    // have version 1, layer 0).
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Outcome of one call, with what it cost.
pub struct Called<R> {
    /// The hook's answer, or why the call failed.
    pub result: Result<R, String>,
    /// Peak linear memory of the call, in bytes.
    pub peak_memory: usize,
}

impl Prepared {
    /// A store to instantiate in; the call's clock is set by [`Prepared::fresh`].
    fn store(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        deadline: Instant,
    ) -> Store<CallState> {
        let engine = self.pre.engine();
        let mut store = Store::new(
            engine,
            CallState {
                identity,
                now: 0,
                deadline,
                limiter: Limiter {
                    memory_cap: (limits.memory_mib as usize) << 20,
                    memory_total: 0,
                    memory_peak: 0,
                },
                wasi: None,
                table: ResourceTable::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        arm(&mut store, limits, deadline);
        store
    }

    /// A fresh instance for one call: a spare one, or the first of a new batch.
    async fn fresh(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        deadline: Instant,
    ) -> Result<Fresh, String> {
        let spare = self.spare.lock().ok().and_then(|mut s| s.pop());
        let mut fresh = match spare {
            Some(f) => f,
            None => self.make_batch(&identity, limits, deadline).await?,
        };
        let state = fresh.store.data_mut();
        state.identity = identity;
        state.now = now;
        state.deadline = deadline;
        state.limiter.memory_cap = (limits.memory_mib as usize) << 20;
        arm(&mut fresh.store, limits, deadline);
        Ok(fresh)
    }

    /// Makes [`Prepared::batch`] instances, keeps all but the first as spares and returns the
    /// first. Waiting for the first slot counts against the call's deadline (a burst that keeps
    /// every slot busy fails the waiting calls, per `on_error`, instead of queueing them without
    /// bound); the others are made only while slots are free.
    async fn make_batch(
        &self,
        identity: &Arc<PluginIdentity>,
        limits: Limits,
        deadline: Instant,
    ) -> Result<Fresh, String> {
        let budget = deadline.saturating_duration_since(Instant::now());
        // The semaphore is never closed, so only the wait can fail.
        let slot = tokio::time::timeout(budget, SLOTS.acquire())
            .await
            .map_err(|_| {
                format!(
                    "deadline of {} ms exceeded waiting for a free instance slot",
                    limits.timeout_ms
                )
            })?
            .ok();
        let first = self
            .instantiate(identity.clone(), limits, deadline, slot)
            .await?;
        let mut spares = Vec::new();
        while spares.len() + 1 < self.batch {
            let Ok(slot) = SLOTS.try_acquire() else {
                break;
            };
            match self
                .instantiate(identity.clone(), limits, deadline, Some(slot))
                .await
            {
                Ok(f) => spares.push(f),
                Err(_) => break,
            }
        }
        if !spares.is_empty()
            && let Ok(mut s) = self.spare.lock()
        {
            s.append(&mut spares);
        }
        Ok(first)
    }

    /// One instance in its own store, within the call's limits and deadline.
    async fn instantiate(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        deadline: Instant,
        slot: Option<tokio::sync::SemaphorePermit<'static>>,
    ) -> Result<Fresh, String> {
        let mut store = self.store(identity, limits, deadline);
        let instance = match tokio::time::timeout(
            limits.hard_timeout(),
            self.pre.instantiate_async(&mut store),
        )
        .await
        {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => return Err(describe_trap(&e, &limits)),
            Err(_) => return Err(format!("deadline of {} ms exceeded", limits.timeout_ms)),
        };
        Ok(Fresh {
            store,
            instance,
            _slot: slot,
        })
    }

    /// Drops a called instance, with the others of its batch; at once if the call grew its
    /// memory beyond the batch's share, so that memory is not held.
    fn retire(&self, fresh: Fresh) {
        if fresh.store.data().limiter.memory_total > SPARE_BYTES / self.batch {
            return drop(fresh);
        }
        let due = match self.retired.lock() {
            Ok(mut r) => {
                r.push(fresh);
                if r.len() >= self.batch {
                    std::mem::take(&mut *r)
                } else {
                    Vec::new()
                }
            }
            Err(_) => vec![fresh],
        };
        drop(due);
    }

    /// The hook this plugin implements.
    pub fn hook(&self) -> HookKind {
        self.inspection.hook
    }
}

/// Sets a store's per-call limits: the copy budget and the deadline.
fn arm(store: &mut Store<CallState>, limits: Limits, deadline: Instant) {
    // Bounds every copy out of the guest (the result, a log message) before it is made: a
    // result of strings or list entries pointing at the same guest bytes cannot make the host
    // copy more than this.
    store.set_hostcall_fuel(limits.copy_budget());
    // Every tick the guest yields to tokio (so a busy plugin cannot starve the worker
    // thread) and is interrupted once its deadline has passed.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        }
    });
}

/// Runs one hook call in a fresh instance. `$variant` is the [`HookExports`] variant, `$call`
/// the generated `call_*` method.
macro_rules! call_hook {
    ($prepared:expr, $identity:expr, $limits:expr, $now:expr, $variant:ident, $call:ident, $ctx:expr) => {{
        let prepared: &$crate::plugins::engine::Prepared = $prepared;
        let limits: $crate::plugins::manifest::Limits = $limits;
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_millis(limits.timeout_ms);
        let mut fresh = match prepared.fresh($identity, limits, $now, deadline).await {
            Ok(f) => f,
            Err(e) => {
                return $crate::plugins::engine::Called {
                    result: Err(e),
                    peak_memory: 0,
                };
            }
        };
        let run = async {
            let $crate::plugins::engine::HookExports::$variant(indices) = &prepared.exports else {
                return Err(wasmtime::Error::msg(
                    "the plugin does not implement this hook",
                ));
            };
            let guest = indices.load(&mut fresh.store, &fresh.instance)?;
            guest.$call(&mut fresh.store, $ctx).await
        };
        // The epoch callback interrupts the guest at its deadline; the timer is a second line
        // for time spent outside the guest.
        let result = match tokio::time::timeout(limits.hard_timeout(), run).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err($crate::plugins::engine::describe_trap(&e, &limits)),
            Err(_) => Err(format!("deadline of {} ms exceeded", limits.timeout_ms)),
        };
        let peak_memory = fresh.store.data().peak_memory();
        prepared.retire(fresh);
        $crate::plugins::engine::Called {
            result,
            peak_memory,
        }
    }};
}

/// Runs one hook call on a plugin of either WIT version: a 0.1 plugin gets the context adapted
/// to its version's records and its answer adapted back (see [`adapt`]).
macro_rules! call_versioned {
    ($prepared:ident, $identity:ident, $limits:ident, $now:ident, $ctx:ident, $new:ident, $old:ident, $call:ident) => {{
        if let HookExports::$old(_) = &$prepared.exports {
            let old_ctx = match adapt(&$ctx) {
                Ok(c) => c,
                Err(e) => {
                    return Called {
                        result: Err(e),
                        peak_memory: 0,
                    };
                }
            };
            let called =
                async { call_hook!($prepared, $identity, $limits, $now, $old, $call, &old_ctx) }
                    .await;
            return Called {
                result: called.result.and_then(|r| adapt(&r)),
                peak_memory: called.peak_memory,
            };
        }
        call_hook!($prepared, $identity, $limits, $now, $new, $call, $ctx)
    }};
}

/// Converts a record between WIT versions through its JSON form: what 0.2 added is dropped on
/// the way to a 0.1 plugin (unknown members are ignored), and a 0.1 answer has every member a
/// 0.2 one needs.
fn adapt<A: serde::Serialize, B: serde::de::DeserializeOwned>(a: &A) -> Result<B, String> {
    serde_json::to_value(a)
        .and_then(serde_json::from_value)
        .map_err(|e| format!("adapting between WIT versions: {e}"))
}

impl CallState {
    /// Peak linear memory so far.
    pub fn peak_memory(&self) -> usize {
        self.limiter.memory_peak
    }
}

/// A readable message for a failed call.
pub fn describe_trap(e: &wasmtime::Error, limits: &Limits) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        if *trap == wasmtime::Trap::Interrupt {
            return format!("deadline of {} ms exceeded", limits.timeout_ms);
        }
        // Displays as "wasm trap: …".
        return trap.to_string();
    }
    // wasmtime's refusal to copy more than the store's hostcall fuel (`Limits::copy_budget`).
    if e.chain().any(|c| {
        c.to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    }) {
        return format!(
            "oversize result or host-call argument: over {} bytes, refused before copying \
             (max_result_bytes {} plus {} of list overhead)",
            limits.copy_budget(),
            limits.max_result_bytes,
            Limits::COPY_OVERHEAD
        );
    }
    // Our limiter's refusal, wherever it sits in the chain (under the wasm backtrace).
    if let Some(cause) = e
        .chain()
        .map(|c| c.to_string())
        .find(|c| c.starts_with("memory limit exceeded"))
    {
        return cause;
    }
    let text = format!("{e:#}");
    let first = text.lines().next().unwrap_or("").trim();
    format!("trap: {first}")
}

impl Prepared {
    /// Calls the update-token hook.
    pub async fn update_token(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        ctx: &bindings::update_token::Context,
    ) -> Called<Result<bindings::update_token::Update, String>> {
        call_versioned!(
            self,
            identity,
            limits,
            now,
            ctx,
            UpdateToken,
            UpdateTokenV01,
            call_update_token
        )
    }

    /// Calls the revoke-token hook.
    pub async fn revoke_token(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        ctx: &bindings::revoke_token::Context,
    ) -> Called<Result<bindings::revoke_token::Decision, String>> {
        call_versioned!(
            self,
            identity,
            limits,
            now,
            ctx,
            RevokeToken,
            RevokeTokenV01,
            call_revoke_token
        )
    }

    /// Calls the dynamic-scope hook.
    pub async fn dynamic_scope(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        ctx: &bindings::dynamic_scope::Context,
    ) -> Called<Result<String, String>> {
        call_versioned!(
            self,
            identity,
            limits,
            now,
            ctx,
            DynamicScope,
            DynamicScopeV01,
            call_dynamic_scope
        )
    }

    /// Calls the introspection hook.
    pub async fn introspection(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        ctx: &bindings::introspection::Context,
    ) -> Called<Result<bindings::introspection::Outcome, String>> {
        call_versioned!(
            self,
            identity,
            limits,
            now,
            ctx,
            Introspection,
            IntrospectionV01,
            call_introspection
        )
    }

    /// Calls the end-session hook.
    pub async fn end_session(
        &self,
        identity: Arc<PluginIdentity>,
        limits: Limits,
        now: i64,
        ctx: &bindings::end_session::Context,
    ) -> Called<Result<Option<String>, String>> {
        call_versioned!(
            self,
            identity,
            limits,
            now,
            ctx,
            EndSession,
            EndSessionV01,
            call_end_session
        )
    }
}

#[cfg(test)]
mod log_tests {
    use super::escape_control;

    #[test]
    fn plugin_log_text_cannot_forge_lines() {
        assert_eq!(escape_control("plain text é"), "plain text é");
        assert_eq!(
            escape_control("ok\nERROR forged line\r\u{1b}[31m"),
            "ok\\nERROR forged line\\r\\u{1b}[31m"
        );
        assert!(!escape_control("a\nb\tc\0").contains(char::is_control));
    }
}

#[cfg(test)]
mod version_tests {
    use super::{is_v0_1, supported_version};

    #[test]
    fn current_and_previous_minor_only() {
        for v in ["0.2.0", "0.2.7", "0.1.0", "0.1.3"] {
            assert!(supported_version(v), "{v}");
        }
        for v in ["0.3.0", "0.0.1", "1.2.0", "0.2", "0.2.0.1", ""] {
            assert!(!supported_version(v), "{v}");
        }
        assert!(is_v0_1("0.1.2") && !is_v0_1("0.2.0"));
    }
}
