//! Run-time configuration: the settings an administrator changes through the admin API while the
//! server runs. What is stored is the set of *overrides*, a JSON merge patch (RFC 7396) over the
//! start-up settings (defaults < file < `TESSERA_*` variables), so that a later change to the file
//! still applies to every key no administrator overrode. Start-up settings ([`START_UP`]) cannot be
//! overridden: they are read once (sockets, database, master key, thread pools).

use super::{ConfigError, Settings};
use serde_json::{Map, Value};

/// Janssen Auth Server property names (seeds 001–004, Janssen's `jans-auth` configuration) and
/// the setting each is here, as a dotted key. The admin API's configuration accepts either name
/// in a JSON Patch path (`/accessTokenLifetime` is `/tokens/access_token_lifetime`).
pub const JANSSEN_NAMES: &[(&str, &str)] = &[
    ("accessTokenLifetime", "tokens.access_token_lifetime"),
    ("refreshTokenLifetime", "tokens.refresh_token_lifetime"),
    ("idTokenLifetime", "tokens.id_token_lifetime"),
    (
        "authorizationCodeLifetime",
        "tokens.authorization_code_lifetime",
    ),
    ("sessionIdLifetime", "session.lifetime"),
    ("sessionIdUnusedLifetime", "session.unused_lifetime"),
    ("requirePkce", "authorize.require_pkce"),
    (
        "requirePar",
        "authorize.require_pushed_authorization_requests",
    ),
    ("requestUriParLifetime", "authorize.par_lifetime"),
    (
        "allowAllValueForRevokeEndpoint",
        "revocation.allow_all_value",
    ),
    (
        "forceIdTokenHintPrecense",
        "logout.force_id_token_hint_presence",
    ),
    (
        "rejectEndSessionIfIdTokenExpired",
        "logout.reject_if_id_token_expired",
    ),
    (
        "allowEndSessionWithUnmatchedSid",
        "logout.allow_unmatched_sid",
    ),
    (
        "allowPostLogoutRedirectWithoutValidation",
        "logout.allow_post_logout_redirect_without_validation",
    ),
    ("dcrAuthorizationWithClientCredentials", "registration.open"),
    (
        "dynamicRegistrationExpirationTime",
        "registration.client_lifetime",
    ),
    ("statAuthorizationScope", "stat.scope"),
    ("deviceAuthzRequestExpiresIn", "device.lifetime"),
    ("deviceAuthzTokenPollInterval", "device.interval"),
    (
        "dpopSigningAlgValuesSupported",
        "dpop.signing_alg_values_supported",
    ),
    ("dpopTimeframe", "dpop.timeframe"),
    ("dpopNonceCacheTime", "dpop.nonce_lifetime"),
    (
        "introspectionAccessTokenMustHaveIntrospectionScope",
        "introspection.access_token_must_have_introspection_scope",
    ),
    (
        "introspectionSkipAuthorization",
        "introspection.skip_authorization",
    ),
    (
        "introspectionScriptBackwardCompatibility",
        "introspection.script_backward_compatibility",
    ),
    ("loggingLevel", "log.level"),
    ("loggingLayout", "log.format"),
    ("httpLoggingEnabled", "log.http"),
    ("enabledOAuthAuditLogging", "log.oauth_audit"),
    ("featureFlags", "features"),
];

/// A JSON Pointer into the settings with a Janssen property name as its first segment
/// rewritten to the setting's own path; any other pointer as it is.
pub fn from_janssen_pointer(pointer: &str) -> String {
    let Some(rest) = pointer.strip_prefix('/') else {
        return pointer.to_string();
    };
    let (first, tail) = rest.split_once('/').map_or((rest, ""), |(f, t)| (f, t));
    match JANSSEN_NAMES.iter().find(|(j, _)| *j == first) {
        Some((_, key)) => {
            let mut p: String = key.split('.').map(|s| format!("/{s}")).collect();
            if !tail.is_empty() {
                p.push('/');
                p.push_str(tail);
            }
            p
        }
        None => pointer.to_string(),
    }
}

/// Settings read once at start-up, with why; a change needs the file or environment and a
/// restart. Every other setting can be changed at run time and applies to the next request.
pub const START_UP: &[(&str, &str)] = &[
    ("listen", "the socket is bound at start-up"),
    (
        "issuer",
        "clients and tokens depend on it; change it in the file",
    ),
    ("database_url", "the database is opened at start-up"),
    ("worker_threads", "the runtime is built at start-up"),
    ("database_max_connections", "the pool is built at start-up"),
    ("database_sqlite_synchronous", "set when connections open"),
    ("data_dir", "read at start-up"),
    ("master_key", "a secret of the file or environment only"),
    ("plugins_dir", "watched from start-up"),
    ("plugins", "the plugin runtime is built at start-up"),
    ("metrics.listen", "the socket is bound at start-up"),
    (
        "http.max_body_bytes",
        "the body limit is built into the router at start-up",
    ),
    (
        "outbound",
        "the outbound HTTP clients are built at start-up",
    ),
    (
        "login.max_concurrent_verifications",
        "the verifier threads start at start-up",
    ),
    (
        "device.user_code_failures",
        "the user-code guard is built at start-up",
    ),
    (
        "device.failure_window_seconds",
        "the user-code guard is built at start-up",
    ),
    (
        "keys.algorithms",
        "keys for each algorithm are made at start-up",
    ),
    (
        "keys.reload_interval_ms",
        "the key reload task starts at start-up",
    ),
    (
        "stat.flush_interval_seconds",
        "the stat flush task starts at start-up",
    ),
];

/// The start-up key `path` (dotted) falls under, with the reason.
pub fn start_up_key(path: &str) -> Option<(&'static str, &'static str)> {
    START_UP.iter().copied().find(|(key, _)| {
        path == *key || path.starts_with(&format!("{key}.")) || key.starts_with(&format!("{path}."))
    })
}

impl Settings {
    /// The settings as JSON, with the master key masked: what administrators read.
    pub fn to_public_json(&self) -> Value {
        let mut doc = serde_json::to_value(self).unwrap_or_default();
        if !self.master_key.0.is_empty() {
            doc["master_key"] = Value::from(super::REDACTED);
        }
        doc
    }

    /// These settings with `overrides` (a merge patch) applied, parsed and validated. An unknown
    /// key, a start-up key, a wrongly typed or an invalid value is refused, naming the key.
    pub fn with_overrides(&self, overrides: &Value) -> Result<Settings, ConfigError> {
        let mut refused = Vec::new();
        leaves(overrides, "", &mut refused);
        if let Some((path, (key, why))) =
            refused.iter().find_map(|p| start_up_key(p).map(|k| (p, k)))
        {
            return Err(ConfigError::new(
                path.clone(),
                format!(
                    "a start-up setting ({key}: {why}); change it in the file or environment and restart"
                ),
            ));
        }
        let mut doc = serde_json::to_value(self)
            .map_err(|e| ConfigError::new("(settings)", e.to_string()))?;
        merge(&mut doc, overrides);
        let mut unknown = Vec::new();
        let mut note = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let de = serde_ignored::Deserializer::new(doc, &mut note);
        let parsed: Result<Settings, _> = serde_path_to_error::deserialize(de);
        if let Some(path) = unknown.first() {
            return Err(ConfigError::new(path.clone(), "not a Tessera setting"));
        }
        let settings =
            parsed.map_err(|e| ConfigError::new(e.path().to_string(), e.inner().to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// These settings with stored `overrides`, or these settings alone (the reason logged) when
    /// the overrides no longer apply: the file changed so that one is now a start-up key or an
    /// invalid value. Stored overrides were valid when stored, so this is rare.
    pub fn with_stored_overrides(&self, overrides: &Value) -> Settings {
        self.with_overrides(overrides).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the stored run-time configuration does not apply; using the start-up settings");
            self.clone()
        })
    }

    /// The overrides (a merge patch) that turn these settings into the settings document
    /// `doc`; check them with [`with_overrides`](Self::with_overrides).
    pub fn overrides_for(&self, doc: &Value) -> Value {
        let base = serde_json::to_value(self).unwrap_or_default();
        diff(&base, doc).unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// RFC 7396 merge: objects merge key by key, `null` removes, anything else replaces.
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge(target.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// The merge patch from `base` to `new`; `None` when they are equal. A key of `base` missing
/// from `new` is not a change (settings documents always hold every key).
fn diff(base: &Value, new: &Value) -> Option<Value> {
    match (base, new) {
        (Value::Object(b), Value::Object(n)) => {
            let out: Map<String, Value> = n
                .iter()
                .filter_map(|(k, v)| match b.get(k) {
                    Some(old) => diff(old, v).map(|d| (k.clone(), d)),
                    None => Some((k.clone(), v.clone())),
                })
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (b, n) if b == n => None,
        (_, n) => Some(n.clone()),
    }
}

/// The dotted paths of the non-object values of `v`.
fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &path, out);
            }
        }
        _ if !prefix.is_empty() => out.push(prefix.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn janssen_names_point_at_settings_that_exist() {
        let doc = serde_json::to_value(Settings::default()).unwrap();
        for (name, key) in JANSSEN_NAMES {
            let p = from_janssen_pointer(&format!("/{name}"));
            assert!(doc.pointer(&p).is_some(), "{name} -> {key} -> {p}");
        }
        assert_eq!(
            from_janssen_pointer("/featureFlags/introspection"),
            "/features/introspection"
        );
        assert_eq!(from_janssen_pointer("/log/level"), "/log/level");
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_round_trip_and_name_refused_keys() {
        let base = Settings::default();
        let changed = base
            .with_overrides(&json!({"tokens": {"access_token_lifetime": 600}, "features": {"introspection": false}}))
            .unwrap();
        assert_eq!(changed.tokens.access_token_lifetime, 600);
        assert!(!changed.features.introspection);
        let doc = serde_json::to_value(&changed).unwrap();
        assert_eq!(
            base.overrides_for(&doc),
            json!({"tokens": {"access_token_lifetime": 600}, "features": {"introspection": false}})
        );
        assert_eq!(
            base.overrides_for(&serde_json::to_value(&base).unwrap()),
            json!({})
        );

        let err = base
            .with_overrides(&json!({"listen": "0.0.0.0:1"}))
            .unwrap_err();
        assert_eq!(err.key, "listen");
        let err = base
            .with_overrides(&json!({"outbound": {"timeout_ms": 1}}))
            .unwrap_err();
        assert_eq!(err.key, "outbound.timeout_ms");
        let err = base
            .with_overrides(&json!({"tokens": {"bogus": 1}}))
            .unwrap_err();
        assert_eq!(err.key, "tokens.bogus");
        let err = base
            .with_overrides(&json!({"tokens": {"access_token_lifetime": "long"}}))
            .unwrap_err();
        assert_eq!(err.key, "tokens.access_token_lifetime");
        let err = base
            .with_overrides(&json!({"log": {"level": "no=such=level"}}))
            .unwrap_err();
        assert_eq!(err.key, "log.level");
    }

    #[test]
    fn start_up_keys_match_whole_segments() {
        assert!(start_up_key("plugins.watch").is_some());
        assert!(start_up_key("plugins_dir").is_some());
        assert!(start_up_key("login.max_concurrent_verifications").is_some());
        assert!(start_up_key("login.account_failures").is_none());
        assert!(start_up_key("log").is_none());
    }
}
