//! Scope administration (seed 001's Scopes screen): create, update, delete, with the rules of each
//! scope type. JSON in and out: `{"id", "scope_type", "description", "claims", "default_scope"}`,
//! plus `creator` / `creator_id` on output.

use crate::clock::UnixTime;
use crate::model::ScopeType;
use crate::model::scope::{STANDARD_SCOPES, is_valid_scope_token};
use crate::model::user::is_claim_name;
use crate::store::{ScopeRow, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

/// Why a scope change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScopeError {
    /// The input is not acceptable; the message names the field.
    #[error("invalid scope: {0}")]
    Invalid(String),
    /// A scope with this id exists.
    #[error("invalid scope: id: a scope {0:?} exists already")]
    Exists(String),
    /// No scope has this id.
    #[error("no scope {0:?}")]
    NotFound(String),
    /// The scope changed since the administrator read it (its entity tag moved).
    #[error("the scope changed since it was read; read it again and reapply the change")]
    Stale,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 1000;
/// Longest scope id, in bytes.
const MAX_ID: usize = 200;
/// Most claims one scope may link.
const MAX_CLAIMS: usize = 200;

/// A scope as an administrator writes it; absent fields keep their value on update.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeInput {
    /// The scope value (RFC 6749 §3.3 scope-token); required on create, fixed after.
    id: Option<String>,
    /// `oauth`, `openid`, `dynamic` or `uma`; required on create, fixed after.
    scope_type: Option<String>,
    /// Shown on the consent page.
    description: Option<String>,
    /// User attributes the scope releases (openid and dynamic scopes only).
    claims: Option<Vec<String>>,
    /// Given to dynamically registered clients that name no scopes.
    default_scope: Option<bool>,
}

/// The administrator's view of a scope.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ScopeView {
    /// The scope value.
    pub id: String,
    /// `oauth`, `openid`, `dynamic`, `spontaneous` or `uma`.
    pub scope_type: String,
    /// Shown on the consent page.
    pub description: String,
    /// User attributes the scope releases.
    pub claims: Vec<String>,
    /// Given to dynamically registered clients that name no scopes.
    pub default_scope: bool,
    /// `user` (an administrator), `client` (a spontaneous scope) or `auto`.
    pub creator: String,
    /// The client that created a spontaneous scope.
    pub creator_id: Option<String>,
}

impl ScopeView {
    /// The view of `s`.
    pub fn of(s: &ScopeRow) -> Self {
        Self {
            id: s.scope_id.clone(),
            scope_type: s.scope_type.clone(),
            description: s.description.clone(),
            claims: s.claims.clone(),
            default_scope: s.default_scope,
            creator: s.creator.clone(),
            creator_id: s.creator_id.clone(),
        }
    }

    /// The view's entity tag.
    pub fn etag(&self) -> String {
        super::etag(self)
    }
}

fn parse_input(input: Value) -> Result<ScopeInput, ScopeError> {
    serde_json::from_value(input).map_err(|e| ScopeError::Invalid(e.to_string()))
}

/// Creates a scope. Spontaneous scopes are created by clients only.
pub async fn create(store: &Store, input: Value, now: UnixTime) -> Result<ScopeRow, ScopeError> {
    let input = parse_input(input)?;
    let id = input
        .id
        .clone()
        .ok_or_else(|| ScopeError::Invalid("id: required".into()))?;
    if id.len() > MAX_ID || !is_valid_scope_token(&id) {
        return Err(ScopeError::Invalid(format!(
            "id: 1 to {MAX_ID} printable ASCII characters other than space, '\"' and '\\\\' \
             (RFC 6749 §3.3)"
        )));
    }
    let kind = input
        .scope_type
        .as_deref()
        .ok_or_else(|| ScopeError::Invalid("scope_type: required".into()))
        .and_then(scope_type)?;
    if kind == ScopeType::Spontaneous {
        return Err(ScopeError::Invalid(
            "scope_type: spontaneous scopes are created by clients whose spontaneous_scopes \
             patterns match, not by hand"
                .into(),
        ));
    }
    let mut row = ScopeRow::new(id, kind.as_str());
    apply(&mut row, kind, input)?;
    match store.insert_scope(&row, now).await {
        Ok(()) => Ok(row),
        Err(StoreError::Conflict) => Err(ScopeError::Exists(row.scope_id)),
        Err(e) => Err(e.into()),
    }
}

/// Changes a scope's description, claims or default flag; its id and type stay. With
/// `if_match`, only while the scope's entity tag still matches it.
pub async fn update(
    store: &Store,
    scope_id: &str,
    input: Value,
    now: UnixTime,
    if_match: Option<&str>,
) -> Result<ScopeRow, ScopeError> {
    let current = store
        .find_scope(scope_id)
        .await?
        .ok_or_else(|| ScopeError::NotFound(scope_id.into()))?;
    if if_match.is_some_and(|m| !super::if_match(m, &ScopeView::of(&current).etag())) {
        return Err(ScopeError::Stale);
    }
    let input = parse_input(without_read_only(&current, input)?)?;
    let mut row = current.clone();
    if input.id.as_ref().is_some_and(|id| *id != row.scope_id) {
        return Err(ScopeError::Invalid("id: cannot be changed".into()));
    }
    if input
        .scope_type
        .as_ref()
        .is_some_and(|t| *t != row.scope_type)
    {
        return Err(ScopeError::Invalid("scope_type: cannot be changed".into()));
    }
    let kind = scope_type(&row.scope_type)?;
    apply(&mut row, kind, input)?;
    if !store.update_scope(&row, &current, now).await? {
        return Err(ScopeError::Stale);
    }
    Ok(row)
}

/// Applies an RFC 6902 JSON Patch to the scope's view, then updates as [`update`] does.
pub async fn patch(
    store: &Store,
    scope_id: &str,
    patch: Value,
    now: UnixTime,
    if_match: &str,
) -> Result<ScopeRow, ScopeError> {
    let current = store
        .find_scope(scope_id)
        .await?
        .ok_or_else(|| ScopeError::NotFound(scope_id.into()))?;
    let patched = super::clients::apply_patch(&ScopeView::of(&current), patch)
        .map_err(|e| ScopeError::Invalid(e.to_string()))?;
    update(store, scope_id, patched, now, Some(if_match)).await
}

/// `input` without the view's read-only `creator` and `creator_id`, which may be sent back
/// unchanged.
fn without_read_only(current: &ScopeRow, input: Value) -> Result<Value, ScopeError> {
    let Value::Object(mut m) = input else {
        return Err(ScopeError::Invalid("the body must be a JSON object".into()));
    };
    let view = ScopeView::of(current);
    for (field, now) in [
        ("creator", json!(view.creator)),
        ("creator_id", json!(view.creator_id)),
    ] {
        if m.remove(field).is_some_and(|v| v != now) {
            return Err(ScopeError::Invalid(format!("{field}: cannot be changed")));
        }
    }
    Ok(Value::Object(m))
}

/// Deletes a scope. The OpenID Connect standard scopes stay (their claims may be changed).
pub async fn delete(store: &Store, scope_id: &str) -> Result<(), ScopeError> {
    if STANDARD_SCOPES.contains(&scope_id) {
        return Err(ScopeError::Invalid(format!(
            "{scope_id}: a standard OpenID Connect scope cannot be deleted (change its claims \
             instead)"
        )));
    }
    if store.delete_scope(scope_id).await? {
        Ok(())
    } else {
        Err(ScopeError::NotFound(scope_id.into()))
    }
}

fn scope_type(name: &str) -> Result<ScopeType, ScopeError> {
    ScopeType::parse(name).ok_or_else(|| {
        ScopeError::Invalid(format!(
            "scope_type: {name:?} is not one of oauth, openid, dynamic, spontaneous, uma"
        ))
    })
}

/// Applies the changeable fields to `row`, checking them against the scope's type.
fn apply(row: &mut ScopeRow, kind: ScopeType, input: ScopeInput) -> Result<(), ScopeError> {
    if let Some(d) = input.description {
        if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) {
            return Err(ScopeError::Invalid(format!(
                "description: at most {MAX_DESCRIPTION} characters, no control characters"
            )));
        }
        row.description = d;
    }
    if let Some(claims) = input.claims {
        if !claims.is_empty() && !kind.has_claims() {
            return Err(ScopeError::Invalid(format!(
                "claims: a {} scope releases no claims (only openid and dynamic scopes do)",
                kind.as_str()
            )));
        }
        if claims.len() > MAX_CLAIMS {
            return Err(ScopeError::Invalid(format!("claims: at most {MAX_CLAIMS}")));
        }
        if let Some(bad) = claims.iter().find(|c| !is_claim_name(c)) {
            return Err(ScopeError::Invalid(format!(
                "claims: {bad:?} is not a claim a scope may release (1 to 64 of A-Z a-z 0-9 _ - \
                 . :, a letter or _ first, not a claim the server sets)"
            )));
        }
        let mut unique: Vec<String> = Vec::with_capacity(claims.len());
        for c in claims {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        row.claims = unique;
    }
    if let Some(d) = input.default_scope {
        row.default_scope = d;
    }
    Ok(())
}

/// The administrator's view of a scope, as JSON.
pub fn to_json(s: &ScopeRow) -> Value {
    serde_json::to_value(ScopeView::of(s)).unwrap_or_default()
}
