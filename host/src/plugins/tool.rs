//! What `tessera plugin check|test|list` do, with no server running.

use super::bindings;
use super::cache::CompiledCache;
use super::engine::{self, Called, Inspection, PluginIdentity};
use super::manifest::{HookKind, Limits, Manifest};
use super::registry::{PluginStatus, Registry};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Compiles and checks `wasm` as a plugin would be (no manifest needed): its hook, world, WIT
/// version and imports, or a clear error.
pub async fn check(wasm: &Path, cache: Option<&CompiledCache>) -> Result<Inspection, String> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))?;
    check_bytes(bytes, &file_stem(wasm), cache).await
}

/// [`check`] on the component's bytes, for plugin `name`.
pub async fn check_bytes(
    bytes: Vec<u8>,
    name: &str,
    cache: Option<&CompiledCache>,
) -> Result<Inspection, String> {
    let sha = crate::crypto::secrets::sha256_hex(&bytes);
    let identity = Arc::new(PluginIdentity {
        name: name.to_string(),
        version: "check".into(),
        config: Default::default(),
        http: None,
    });
    engine::prepare(
        Arc::new(bytes),
        &sha,
        None,
        identity,
        // Without a manifest there is no deadline to hold it to: the check is that it
        // instantiates at all (a CPython component on a busy machine took over the 50 ms
        // default, which its manifest raises). `plugin test --manifest` applies real limits.
        Limits {
            timeout_ms: super::manifest::MAX_TIMEOUT_MS,
            ..Limits::default()
        },
        cache,
    )
    .await
    .map(|p| p.inspection.clone())
}

/// The report of one `plugin test` run.
#[derive(Debug, serde::Serialize)]
pub struct TestReport {
    /// The hook that ran.
    pub hook: HookKind,
    /// The plugin's answer (JSON-object strings shown as objects), or its error.
    pub result: Value,
    /// Whether the call failed (trap, timeout, over-limit, or an `err` answer).
    pub failed: bool,
    /// Wall time of the call (fresh instance + call), in microseconds.
    pub call_micros: u128,
    /// Peak linear memory of the call, in bytes.
    pub peak_memory_bytes: usize,
    /// Compile (or cache load) time, in milliseconds.
    pub compile_millis: u128,
}

/// Runs the plugin in `wasm` once on the context in `input` (JSON mirroring the hook's WIT
/// `context` record; JSON-object fields may be written as objects). Configuration and limits
/// come from `manifest` when given.
pub async fn test(
    wasm: &Path,
    input: &Value,
    manifest: Option<&Manifest>,
    cache: Option<&CompiledCache>,
) -> Result<TestReport, String> {
    let bytes = std::fs::read(wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))?;
    let sha = crate::crypto::secrets::sha256_hex(&bytes);
    let limits = manifest.map(|m| m.limits).unwrap_or_default();
    let identity = Arc::new(PluginIdentity {
        name: manifest.map_or_else(|| file_stem(wasm), |m| m.name.clone()),
        version: manifest.map_or_else(|| "test".into(), |m| m.version.clone()),
        config: manifest
            .map(|m| m.config_text().into_iter().collect())
            .unwrap_or_default(),
        http: match manifest.and_then(|m| m.http.clone()) {
            Some(grant) => Some(engine::HttpAccess {
                grant,
                client: Arc::new(
                    crate::outbound::PluginHttp::new(&Default::default())
                        .map_err(|e| format!("HTTP client: {e}"))?,
                ),
            }),
            None => None,
        },
    });
    let prepared = engine::prepare(
        Arc::new(bytes),
        &sha,
        manifest.map(|m| m.hook),
        identity.clone(),
        limits,
        cache,
    )
    .await?;
    let input = stringify_json_objects(input.clone());
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let started = Instant::now();
    macro_rules! run {
        ($module:ident, $method:ident) => {{
            let ctx: bindings::$module::Context = serde_json::from_value(input)
                .map_err(|e| format!("input is not a {} context: {e}", prepared.hook()))?;
            let Called {
                result,
                peak_memory,
            } = prepared.$method(identity, limits, now, &ctx).await;
            let result =
                result.and_then(|r| r.map_err(|e| format!("the plugin answered err: {e}")));
            (
                result.map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
                peak_memory,
            )
        }};
    }
    let (result, peak) = match prepared.hook() {
        HookKind::UpdateToken => run!(update_token, update_token),
        HookKind::RevokeToken => run!(revoke_token, revoke_token),
        HookKind::DynamicScope => run!(dynamic_scope, dynamic_scope),
        HookKind::Introspection => run!(introspection, introspection),
        HookKind::EndSession => run!(end_session, end_session),
    };
    let call_micros = started.elapsed().as_micros();
    let (result, failed) = match result {
        Ok(v) => (parse_json_objects(v), false),
        Err(e) => (Value::String(e), true),
    };
    Ok(TestReport {
        hook: prepared.hook(),
        result,
        failed,
        call_micros,
        peak_memory_bytes: peak,
        compile_millis: prepared.compile_time.as_millis(),
    })
}

/// Loads every plugin in `dir` as the server would and reports their status.
pub async fn list(dir: &Path, cache: Option<CompiledCache>) -> Vec<PluginStatus> {
    let registry = Registry::new(dir, cache);
    registry.reload().await;
    registry.status()
}

/// Where the server publishes its plugin status for `tessera plugin list`.
pub fn status_file(data_dir: &Path) -> PathBuf {
    data_dir.join("plugins-status.json")
}

fn file_stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin")
        .to_string()
}

/// Fields the WIT declares as `json-object` text may be given as JSON objects.
fn stringify_json_objects(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("claims" | "user" | "response", Value::Object(o)) => {
                            Value::String(Value::Object(o).to_string())
                        }
                        (_, other) => stringify_json_objects(other),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(stringify_json_objects).collect()),
        other => other,
    }
}

/// Strings holding JSON objects are shown as objects.
fn parse_json_objects(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('{') => match serde_json::from_str::<Value>(&s) {
            Ok(o @ Value::Object(_)) => o,
            _ => Value::String(s),
        },
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, parse_json_objects(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(parse_json_objects).collect()),
        other => other,
    }
}
