//! Scope strings (RFC 6749 §3.3): space-delimited tokens of printable ASCII except `"` and `\`.

use crate::clock::UnixTime;
use crate::model::{Client, ScopeType};
use crate::oauth::OAuthError;
use crate::store::{ScopeRow, Store, StoreError};

pub use crate::model::scope::is_valid_scope_token;

/// Splits a `scope` parameter, refusing malformed tokens; keeps first-seen order, drops repeats.
pub fn parse(scope: &str) -> Result<Vec<&str>, OAuthError> {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !is_valid_scope_token(s) {
            return Err(OAuthError::InvalidScope("malformed scope".into()));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Why a requested scope cannot be granted.
pub enum Refused {
    /// This scope is neither the client's nor one of its spontaneous scopes.
    NotAllowed(String),
    /// Storage failed.
    Store(StoreError),
}

impl From<Refused> for OAuthError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::NotAllowed(bad) => OAuthError::InvalidScope(
                format!("scope {bad:?} is not allowed for this client").into(),
            ),
            Refused::Store(e) => e.into(),
        }
    }
}

/// The scopes a request names (`scope` parameter), each one `client` may be granted (see
/// [`resolve`]); the client's own scopes when the parameter is absent. The one rule for
/// `/authorize` and the `client_credentials` grant.
pub async fn requested(
    store: &Store,
    client: &Client,
    scope: Option<&str>,
    now: UnixTime,
) -> Result<Vec<String>, OAuthError> {
    let Some(scope) = scope else {
        return Ok(client.scopes().map(str::to_string).collect());
    };
    let list = parse(scope)?;
    resolve(store, client, &list, now).await?;
    Ok(list.into_iter().map(str::to_string).collect())
}

/// Checks that `client` may be granted every scope in `requested`: each is one of the client's
/// scopes, or a **spontaneous scope** (seed 001): the client allows spontaneous scopes, the value
/// matches one of its `spontaneous_scopes` patterns as a whole, and it is not an existing scope of
/// another type (a pattern never reaches a scope an administrator defined). A spontaneous scope
/// seen for the first time is recorded (type `spontaneous`, creator `client`, the client's id).
async fn resolve(
    store: &Store,
    client: &Client,
    requested: &[&str],
    now: UnixTime,
) -> Result<(), Refused> {
    let others: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|s| !client.allows_scope(s))
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    if let Some(bad) = others.iter().find(|s| !client.matches_spontaneous(s)) {
        return Err(Refused::NotAllowed(bad.to_string()));
    }
    let existing = store.list_scopes().await.map_err(Refused::Store)?;
    for s in others {
        match existing.iter().find(|e| e.scope_id == s) {
            Some(e) if e.scope_type != ScopeType::Spontaneous.as_str() => {
                return Err(Refused::NotAllowed(s.to_string()));
            }
            Some(_) => {}
            None => {
                let mut row = ScopeRow::new(s, ScopeType::Spontaneous.as_str());
                row.description = format!("Spontaneous scope of client {}", client.client_id);
                row.creator = "client".into();
                row.creator_id = Some(client.client_id.clone());
                store
                    .ensure_scope(&row, now)
                    .await
                    .map_err(Refused::Store)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        assert_eq!(parse("a b  a c").expect("ok"), ["a", "b", "c"]);
        assert!(parse("a \"b\"").is_err());
        assert!(parse("a\\b").is_err());
        assert!(parse("é").is_err());
    }
}
