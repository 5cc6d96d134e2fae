//! Janssen's ID generation endpoint (flag ID_GENERATION): `GET /id/{prefix}/{type}` answers
//! `{"id": "<prefix>!<type code>!<random UUID>"}`, a new identifier for an object of that type.
//! The caller presents a bearer access token (RFC 6750) carrying the `id_generation` scope.
//! Every identifier is recorded before it is returned, under a primary key, so that none is
//! ever handed out twice, by this replica or any other on the same database.

use crate::config::FeatureFlag;
use crate::crypto::secrets::random_uuid;
use crate::oauth::OAuthError;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

/// The scope a caller's access token must carry.
pub const ID_GENERATION_SCOPE: &str = "id_generation";

/// The object types Janssen generates identifiers for, with the code its identifiers carry.
const TYPES: &[(&str, &str)] = &[
    ("people", "0000"),
    ("organization", "0001"),
    ("appliance", "0002"),
    ("group", "0003"),
    ("server", "0004"),
    ("attribute", "0005"),
    ("tRelationship", "0006"),
    ("client", "0008"),
    ("scope", "0009"),
    ("uma-resource-set", "0010"),
    ("interception-script", "0011"),
    ("sector-identifier", "0012"),
];

/// Longest prefix accepted.
const PREFIX_MAX: usize = 64;

/// Draws before giving up; with 122 random bits a second draw already never happens.
const DRAWS: usize = 3;

/// `GET /id/{prefix}/{type}` (and with a trailing `/`, as Janssen's path has it).
pub async fn generate(
    State(state): State<AppState>,
    Path((prefix, id_type)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::IdGeneration)?;
    let token = bearer::from_header(&headers)?.ok_or(BearerError::Missing)?;
    let (_, client) = bearer::scoped_caller(&state, &token, ID_GENERATION_SCOPE).await?;
    let code = TYPES
        .iter()
        .find(|(name, _)| *name == id_type)
        .map(|(_, code)| *code)
        .ok_or_else(|| OAuthError::invalid_request("unknown identifier type"))?;
    if !valid_prefix(&prefix) {
        return Err(OAuthError::invalid_request(
            "the prefix must be 1 to 64 letters, digits or '@', '!', '.', '-', '_'",
        )
        .into());
    }
    for _ in 0..DRAWS {
        let id = format!("{prefix}!{code}!{}", random_uuid());
        if state
            .store()
            .insert_generated_id(&id, &id_type, &client.client_id, state.now())
            .await?
        {
            return Ok(no_store(Json(json!({ "id": id }))));
        }
    }
    Err(OAuthError::Server(anyhow::anyhow!(
        "identifier generation drew {DRAWS} identifiers issued before"
    ))
    .into())
}

/// A prefix is 1–64 characters of `[A-Za-z0-9@!._-]` (Janssen prefixes look like `@!1111`).
fn valid_prefix(prefix: &str) -> bool {
    (1..=PREFIX_MAX).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@!._-".contains(&b))
}
