//! `/keys`: seed 001's Keys screen: the signing keys with their status, rotation and
//! retirement. Private halves never leave the database (sealed with the master key).

use super::auth::{self, Access, Resource};
use super::problem::{Denied, Problem};
use super::{audit, json, repr};
use crate::clock::UnixTime;
use crate::crypto::{SigningAlg, keys};
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A signing key as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// `active` (the newest key of its algorithm), `retiring` (replaced; still published so
    /// tokens it signed verify) or `retired`.
    pub status: String,
    /// Whether the key is in the JWKS now.
    pub published: bool,
    /// Whether the key signs now.
    pub signing: bool,
    /// When the key was made.
    pub created_at: UnixTime,
    /// When it started (or starts) signing.
    pub signing_from: UnixTime,
    /// When it leaves the JWKS, once replaced.
    pub retire_at: Option<UnixTime>,
    /// The public JWK.
    pub public_jwk: Value,
}

/// A rotation request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Only these algorithms (default: every configured one).
    #[serde(default)]
    pub algorithms: Vec<String>,
}

/// The outcome of a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The new keys' ids: published now, signing from `signing_from`.
    pub rotated: Vec<String>,
    /// When the new keys start signing (`keys.publish_ahead` from now, so that every replica
    /// publishes them first).
    pub signing_from: UnixTime,
}

/// Lists the signing keys, oldest first.
#[utoipa::path(get, path = "/keys", tag = "keys",
    security(("bearer" = ["tessera.admin.keys.read"])),
    responses(
        (status = 200, description = "The keys", body = Vec<KeyView>),
        Denied,
    ))]
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    auth::require(&state, &headers, Resource::Keys, Access::Read).await?;
    Ok(json(StatusCode::OK, &views(&state).await?))
}

/// Makes a new key per algorithm. The new keys are in the JWKS at once and sign from
/// `signing_from`; the old ones stay published for `keys.retire_after`.
#[utoipa::path(post, path = "/keys/rotate", tag = "keys",
    request_body(content = Option<RotateRequest>, content_type = "application/json"),
    security(("bearer" = ["tessera.admin.keys.write"])),
    responses(
        (status = 201, description = "Rotated", body = Rotated),
        (status = 400, description = "An unknown algorithm", body = Problem, content_type = "application/problem+json"),
        Denied,
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Keys, Access::Write).await?;
    let request: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        serde_json::from_value(super::json_body(&headers, &body, "application/json")?)
            .map_err(|e| Problem::bad_request(e.to_string()))?
    };
    let names = if request.algorithms.is_empty() {
        state.settings().keys.algorithms.clone()
    } else {
        request.algorithms
    };
    let algs = names
        .iter()
        .map(|a| {
            SigningAlg::parse(a).ok_or_else(|| {
                Problem::bad_request(format!(
                    "algorithms: {a:?} is not one of RS256, ES256, EdDSA"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let now = state.now();
    let timing = keys::Rotation::of(&state.settings().keys);
    let rotated = keys::rotate(state.store(), state.master_key(), &algs, timing, now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    state
        .keys()
        .refresh(state.store(), now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let after =
        Some(serde_json::json!({"rotated": rotated, "signing_from": now + timing.publish_ahead}));
    audit(
        &state,
        &caller,
        Resource::Keys,
        "rotate",
        &rotated.join(" "),
        None,
        after,
    )
    .await;
    Ok(json(
        StatusCode::CREATED,
        &Rotated {
            rotated,
            signing_from: now + timing.publish_ahead,
        },
    ))
}

/// Takes a replaced (`retiring`) key out of the JWKS now: tokens it signed stop verifying. The
/// active key of an algorithm cannot be retired (rotate first), nor a replaced key that still
/// signs because its successor has not started.
#[utoipa::path(post, path = "/keys/{kid}/retire", tag = "keys",
    params(("kid" = String, Path, description = "The key")),
    security(("bearer" = ["tessera.admin.keys.write"])),
    responses(
        (status = 200, description = "Retired", body = KeyView),
        Denied,
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key still signs", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retire(
    State(state): State<AppState>,
    Path(kid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let caller = auth::require(&state, &headers, Resource::Keys, Access::Write).await?;
    let key = views(&state)
        .await?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Problem::not_found(format!("no key {kid:?}")))?;
    if key.signing || key.status == "active" {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("key {kid:?} still signs: rotate, and retire it once its successor signs"),
        ));
    }
    let now = state.now();
    if key.status == "retiring" && !state.store().retire_signing_key(&kid, now).await? {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("key {kid:?} changed meanwhile; read the keys again"),
        ));
    }
    state
        .keys()
        .refresh(state.store(), now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let before = repr(&key);
    let key = views(&state)
        .await?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Problem::not_found(format!("no key {kid:?}")))?;
    audit(
        &state,
        &caller,
        Resource::Keys,
        "retire",
        &kid,
        before,
        repr(&key),
    )
    .await;
    Ok(json(StatusCode::OK, &key))
}

/// The keys with what they do now, worked out from the stored rows as the key ring does (so
/// the answer is the same on every replica, whatever its last reload).
async fn views(state: &AppState) -> Result<Vec<KeyView>, Problem> {
    let now = state.now();
    let rows = state.store().list_signing_keys().await?;
    let live = |r: &crate::store::SigningKeyRow| {
        r.status == "active" || r.retire_at.is_some_and(|t| t > now)
    };
    // Per algorithm, the live key that started signing last signs.
    let mut signer: std::collections::HashMap<&str, (UnixTime, &str)> = Default::default();
    for r in rows.iter().filter(|r| live(r) && r.signs_from() <= now) {
        let from = r.signs_from();
        if signer.get(r.alg.as_str()).is_none_or(|&(t, _)| from >= t) {
            signer.insert(&r.alg, (from, &r.kid));
        }
    }
    Ok(rows
        .iter()
        .map(|r| KeyView {
            published: live(r),
            signing: signer
                .get(r.alg.as_str())
                .is_some_and(|&(_, kid)| kid == r.kid),
            signing_from: r.signs_from(),
            public_jwk: serde_json::from_str(&r.public_jwk).unwrap_or(Value::Null),
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            status: r.status.clone(),
            created_at: r.created_at,
            retire_at: r.retire_at,
        })
        .collect())
}
