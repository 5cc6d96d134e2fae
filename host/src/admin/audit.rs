//! The audit log (seed 001 Logging): every administrative change with who made it, when, and the
//! resource's representation before and after, secrets masked; and, when OAuth audit logging is
//! on, OAuth events (tokens issued, refreshed, revoked; logins; consent). A change is recorded
//! after it was made; if recording fails the change stands and the failure is logged as an error.

use crate::clock::UnixTime;
use crate::store::{AuditEntry, Store};
use serde_json::Value;

/// What stands in for a secret's value.
pub const MASK: &str = crate::config::REDACTED;

/// One administrative change to record.
#[derive(Debug)]
pub struct Change<'a> {
    /// The admin client that made it.
    pub actor_client: &'a str,
    /// The user its token was issued for, if any.
    pub actor_user: Option<&'a str>,
    /// The kind of resource (`clients`, ...).
    pub resource: &'a str,
    /// What was done to it (`create`, `patch`, ...).
    pub action: &'a str,
    /// Which one.
    pub resource_id: &'a str,
    /// Its representation before (none for a creation).
    pub before: Option<Value>,
    /// Its representation after (none for a deletion).
    pub after: Option<Value>,
}

/// Records `change` at `now`, secrets masked.
pub async fn record(store: &Store, change: Change<'_>, now: UnixTime) {
    let masked = |v: Option<Value>| {
        v.map(|mut v| {
            mask(&mut v);
            v
        })
    };
    let entry = AuditEntry {
        id: 0,
        at: now,
        actor_client: change.actor_client.into(),
        actor_user: change.actor_user.map(Into::into),
        action: format!("{}.{}", change.resource, change.action),
        resource: change.resource.into(),
        resource_id: change.resource_id.into(),
        before: masked(change.before),
        after: masked(change.after),
    };
    if entry.resource != OAUTH {
        tracing::info!(action = %entry.action, id = %entry.resource_id, by = %entry.actor_client, "admin change");
    }
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, id = %entry.resource_id, "recording in the audit log failed");
    }
}

/// Records an OAuth event (`token_issued`, `token_refreshed`, `token_revoked`,
/// `login_succeeded`, `login_failed`, `consent_given`) when `log.oauth_audit` is on (seed 001's
/// "Enable OAuth Audit Logging"; Janssen `enabledOAuthAuditLogging`). `details` never holds a
/// token or a password: ids, grant types and scopes only.
pub async fn oauth_event(
    state: &crate::server::AppState,
    event: &str,
    client_id: &str,
    user: Option<&str>,
    details: Value,
) {
    if !state.settings().log.oauth_audit {
        return;
    }
    let change = Change {
        actor_client: client_id,
        actor_user: user,
        resource: OAUTH,
        action: event,
        resource_id: client_id,
        before: None,
        after: Some(details),
    };
    record(state.store(), change, state.now()).await;
}

/// The `resource` of OAuth events in the audit log.
pub const OAUTH: &str = "oauth";

/// Whether a member named `key` holds a secret.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("secret")
        || key.contains("password")
        || key == "master_key"
        || key == "registration_access_token"
}

/// Replaces every non-empty secret value in `v` with [`MASK`].
pub fn mask(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if is_secret(k) && !matches!(v, Value::Null) && v != "" {
                    *v = Value::from(MASK);
                } else {
                    mask(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let mut v = json!({
            "client_secret": "s3cret",
            "token_endpoint_auth_method": "client_secret_basic",
            "nested": [{"password": "pw", "name": "x"}],
            "settings": {"master_key": "", "ssa": {"signing_secret": "k"}},
        });
        mask(&mut v);
        assert_eq!(
            v,
            json!({
                "client_secret": MASK,
                "token_endpoint_auth_method": "client_secret_basic",
                "nested": [{"password": MASK, "name": "x"}],
                "settings": {"master_key": "", "ssa": {"signing_secret": MASK}},
            })
        );
    }
}
