//! Plugin manifests: `NAME.toml` beside `NAME.wasm` in the plugins directory.
//!
//! ```toml
//! name = "add-claims"          # must equal the file stem
//! hook = "update-token"        # update-token | revoke-token | dynamic-scope | introspection | end-session
//! version = "1.2.0"            # the plugin's own version, shown in logs and `plugin list`
//! sha256 = "…"                 # hex SHA-256 of NAME.wasm; a mismatch refuses the plugin
//! priority = 10                # lower runs first; ties by name
//! enabled = true
//! on_error = "fail-closed"     # or "fail-open"
//!
//! [limits]
//! timeout_ms = 50
//! memory_mib = 64
//! max_result_bytes = 1048576
//!
//! [bindings]
//! clients = ["app1"]           # empty: every client (global), unless `global = false`
//! scopes = ["org"]             # dynamic-scope only: the scopes it serves (required there)
//!
//! [config]                     # the plugin's own properties, read with `host.config(key)`
//! tenant = "acme"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The hooks a plugin can implement (one per plugin).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// Customise token claims before signing.
    UpdateToken,
    /// Decide revocations.
    RevokeToken,
    /// Claims for dynamic scopes.
    DynamicScope,
    /// Modify introspection responses.
    Introspection,
    /// Shape the logout page.
    EndSession,
}

impl HookKind {
    /// Every hook, in a fixed order.
    pub const ALL: [HookKind; 5] = [
        HookKind::UpdateToken,
        HookKind::RevokeToken,
        HookKind::DynamicScope,
        HookKind::Introspection,
        HookKind::EndSession,
    ];

    /// The WIT interface (and manifest) name.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::UpdateToken => "update-token",
            HookKind::RevokeToken => "revoke-token",
            HookKind::DynamicScope => "dynamic-scope",
            HookKind::Introspection => "introspection",
            HookKind::EndSession => "end-session",
        }
    }

    /// Parses a WIT interface name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.name() == s)
    }

    /// Index into per-hook arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an endpoint does when a plugin fails (trap, timeout, over-limit, oversize or invalid
/// result, or an `err` answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// The endpoint answers `server_error` (the default: a broken policy plugin must not
    /// silently stop enforcing).
    #[default]
    FailClosed,
    /// The plugin's effect is skipped and the request goes on.
    FailOpen,
}

/// Per-plugin resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock deadline per call (instantiation included), in milliseconds.
    pub timeout_ms: u64,
    /// Memory cap per call (all linear memories together), in MiB.
    pub memory_mib: u64,
    /// Largest result a call may return (JSON text and strings together), in bytes. It also
    /// bounds what the host copies out of the guest: each transfer (the result, a log message)
    /// may make the host copy at most this plus [`Limits::COPY_OVERHEAD`] bytes, checked before
    /// each string or list is copied.
    pub max_result_bytes: usize,
}

impl Limits {
    /// What the host may copy out of the guest beyond `max_result_bytes` in one transfer: the
    /// host's own size of list entries (24 bytes per string), so a result of many short strings
    /// within `max_result_bytes` is still copied whole and measured exactly.
    pub const COPY_OVERHEAD: usize = 64 * 1024;

    /// The most bytes the host copies out of the guest in one transfer (wasmtime's "hostcall
    /// fuel", charged before each string or list is copied).
    pub fn copy_budget(&self) -> usize {
        self.max_result_bytes + Self::COPY_OVERHEAD
    }

    /// The timer behind the epoch deadline: it catches time spent outside the guest (twice the
    /// deadline, plus 100 ms).
    pub fn hard_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms * 2 + 100)
    }
}

/// Hard ceilings for [`Limits`], whatever a manifest asks for.
pub const MAX_TIMEOUT_MS: u64 = 10_000;
/// Hard ceiling for `limits.memory_mib` (the engine's per-memory reservation).
pub const MAX_MEMORY_MIB: u64 = 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout_ms: 50,
            memory_mib: 64,
            max_result_bytes: 1024 * 1024,
        }
    }
}

/// Where a plugin applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bindings {
    /// Explicitly global (`true`) or only for listed clients (`false`). Unset: global unless
    /// `clients` is non-empty.
    pub global: Option<bool>,
    /// Clients it runs for (besides clients whose `scripts` field names the plugin).
    pub clients: Vec<String>,
    /// dynamic-scope: the scopes it serves.
    pub scopes: Vec<String>,
}

impl Bindings {
    /// Whether the plugin runs for every client.
    pub fn is_global(&self) -> bool {
        self.global.unwrap_or(self.clients.is_empty())
    }
}

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name (the file stem).
    pub name: String,
    /// The hook it implements.
    pub hook: HookKind,
    /// The plugin's own version string.
    #[serde(default = "default_version")]
    pub version: String,
    /// Hex SHA-256 of the wasm file (required in a plugins directory; `plugin test` ignores it).
    #[serde(default)]
    pub sha256: String,
    /// Lower runs first.
    #[serde(default)]
    pub priority: i32,
    /// Disabled plugins are listed but never called.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Failure policy.
    #[serde(default)]
    pub on_error: OnError,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
    /// Where it applies.
    #[serde(default)]
    pub bindings: Bindings,
    /// Outbound HTTP (`host.fetch`, WIT 0.2): absent, the plugin may reach nothing.
    #[serde(default)]
    pub http: Option<HttpGrant>,
    /// The plugin's configuration properties.
    #[serde(default)]
    pub config: BTreeMap<String, ConfigValue>,
}

/// The operator's grant of outbound HTTP to one plugin (`[http]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGrant {
    /// Hosts it may reach: `name` (any port) or `name:port`; names and IP literals, compared
    /// without case. Listing a host is the operator's decision that it may be reached even when
    /// it resolves to an internal address (a directory service on the private network).
    pub allow: Vec<String>,
    /// Largest response body accepted, in bytes.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

/// Hard ceiling for `http.max_response_bytes`.
pub const MAX_HTTP_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

fn default_max_response_bytes() -> usize {
    64 * 1024
}

impl HttpGrant {
    /// Whether `host` (lower case; IPv6 without brackets) on `port` is allow-listed.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.allow.iter().any(|entry| {
            let (name, entry_port) = split_host_port(entry);
            name.eq_ignore_ascii_case(host) && entry_port.is_none_or(|p| p == port)
        })
    }
}

impl crate::outbound::PluginGrant for HttpGrant {
    fn allows(&self, host: &str, port: u16) -> bool {
        HttpGrant::allows(self, host, port)
    }

    fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
}

/// `host:port` → (`host`, port); `[v6]:port` and bare names too.
fn split_host_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// A configuration property: written as a TOML string, number or boolean, handed to the
/// plugin as text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl ConfigValue {
    /// The value as the plugin reads it.
    pub fn as_text(&self) -> String {
        match self {
            ConfigValue::Text(s) => s.clone(),
            ConfigValue::Int(i) => i.to_string(),
            ConfigValue::Bool(b) => b.to_string(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_version() -> String {
    "0.0.0".into()
}

/// Plugin names: what file stems may be.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

impl Manifest {
    /// Parses and validates manifest text for the plugin whose files are named `stem`.
    pub fn parse(text: &str, stem: &str) -> Result<Self, String> {
        let m: Manifest = toml::from_str(text).map_err(|e| format!("manifest: {}", e.message()))?;
        m.validate(stem)?;
        Ok(m)
    }

    fn validate(&self, stem: &str) -> Result<(), String> {
        if self.name != stem {
            return Err(format!(
                "manifest: name {:?} must equal the file name {stem:?}",
                self.name
            ));
        }
        if !is_valid_name(&self.name) {
            return Err("manifest: name must be 1-64 of a-z 0-9 - _".into());
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("manifest: sha256 must be 64 hex digits".into());
        }
        let l = &self.limits;
        if l.timeout_ms == 0 || l.timeout_ms > MAX_TIMEOUT_MS {
            return Err(format!(
                "manifest: limits.timeout_ms must be 1..={MAX_TIMEOUT_MS}"
            ));
        }
        if l.memory_mib == 0 || l.memory_mib > MAX_MEMORY_MIB {
            return Err(format!(
                "manifest: limits.memory_mib must be 1..={MAX_MEMORY_MIB}"
            ));
        }
        if l.max_result_bytes == 0 || l.max_result_bytes > 64 * 1024 * 1024 {
            return Err("manifest: limits.max_result_bytes must be 1..=67108864".into());
        }
        match (self.hook, self.bindings.scopes.is_empty()) {
            (HookKind::DynamicScope, true) => {
                return Err("manifest: a dynamic-scope plugin needs bindings.scopes".into());
            }
            (HookKind::DynamicScope, false) => {}
            (_, false) => {
                return Err("manifest: bindings.scopes is for dynamic-scope plugins".into());
            }
            (_, true) => {}
        }
        if let Some(h) = &self.http {
            if h.allow.is_empty()
                || h.allow
                    .iter()
                    .any(|a| a.trim().is_empty() || a.contains('/'))
            {
                return Err(
                    "manifest: http.allow must list hosts (`name` or `name:port`, no scheme or path)"
                        .into(),
                );
            }
            if h.max_response_bytes == 0 || h.max_response_bytes > MAX_HTTP_RESPONSE_BYTES {
                return Err(format!(
                    "manifest: http.max_response_bytes must be 1..={MAX_HTTP_RESPONSE_BYTES}"
                ));
            }
        }
        if self.bindings.global == Some(true) && !self.bindings.clients.is_empty() {
            return Err("manifest: bindings.global = true contradicts bindings.clients".into());
        }
        Ok(())
    }

    /// Whether the plugin runs for `client_id` (whose `scripts` field is `scripts`).
    pub fn applies_to(&self, client_id: &str, scripts: &[String]) -> bool {
        self.bindings.is_global()
            || self.bindings.clients.iter().any(|c| c == client_id)
            || scripts.iter().any(|s| s == &self.name)
    }

    /// The configuration properties as text, sorted by key.
    pub fn config_text(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.as_text()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_allow_list() {
        let g = HttpGrant {
            allow: vec![
                "Groups.Example".into(),
                "127.0.0.1:8080".into(),
                "[::1]:9".into(),
            ],
            max_response_bytes: 10,
        };
        assert!(g.allows("groups.example", 443));
        assert!(g.allows("127.0.0.1", 8080));
        assert!(!g.allows("127.0.0.1", 8081));
        assert!(g.allows("::1", 9));
        assert!(!g.allows("evil.example", 443));
    }

    const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn parses_a_full_manifest() {
        let text = format!(
            "name = \"p\"\nhook = \"dynamic-scope\"\nsha256 = \"{SHA}\"\npriority = -1\n\
             on_error = \"fail-open\"\n[limits]\ntimeout_ms = 20\n[bindings]\nscopes = [\"org\"]\n\
             [config]\na = \"x\"\nn = 3\nb = true\n"
        );
        let m = Manifest::parse(&text, "p").expect("valid");
        assert_eq!(m.hook, HookKind::DynamicScope);
        assert_eq!(m.on_error, OnError::FailOpen);
        assert_eq!(m.limits.timeout_ms, 20);
        assert_eq!(m.limits.memory_mib, 64);
        assert_eq!(
            m.config_text(),
            vec![
                ("a".into(), "x".into()),
                ("b".into(), "true".into()),
                ("n".into(), "3".into())
            ]
        );
    }

    #[test]
    fn refuses_bad_manifests() {
        let base = format!("name = \"p\"\nhook = \"update-token\"\nsha256 = \"{SHA}\"\n");
        for (extra, stem, why) in [
            ("", "q", "name"),
            ("[limits]\ntimeout_ms = 0\n", "p", "timeout"),
            ("[limits]\nmemory_mib = 4096\n", "p", "memory"),
            ("[bindings]\nscopes = [\"x\"]\n", "p", "scopes"),
            ("unknown = 1\n", "p", "unknown"),
            (
                "[bindings]\nglobal = true\nclients = [\"a\"]\n",
                "p",
                "global",
            ),
        ] {
            assert!(
                Manifest::parse(&format!("{base}{extra}"), stem).is_err(),
                "{why}"
            );
        }
        assert!(Manifest::parse("name = \"p\"\nhook = \"nope\"\nsha256 = \"x\"", "p").is_err());
    }

    #[test]
    fn bindings_pick_clients() {
        let text = format!(
            "name = \"p\"\nhook = \"update-token\"\nsha256 = \"{SHA}\"\n[bindings]\nclients = [\"a\"]\n"
        );
        let m = Manifest::parse(&text, "p").expect("valid");
        assert!(m.applies_to("a", &[]));
        assert!(!m.applies_to("b", &[]));
        assert!(m.applies_to("b", &["p".to_string()]));
    }
}
