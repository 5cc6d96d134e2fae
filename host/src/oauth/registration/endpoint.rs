//! The client registration endpoint (RFC 7591 §3, `POST /register`) and the client
//! configuration endpoint (RFC 7592 §2, `GET`, `PUT`, `DELETE /register/{client_id}`), flag
//! REGISTRATION.
//!
//! - Registering needs an initial access token (an access token of this server carrying
//!   `registration.initial_access_token_scope`) unless `registration.open` is on.
//! - The answer is the client information response (201): the stored metadata, `client_id`, the
//!   secret once, a `registration_access_token` and the `registration_client_uri`.
//! - The registration access token (stored as its SHA-256, like every secret) manages that one
//!   client: read, replace (which issues a new token: the old one stops working), delete (which
//!   also revokes everything the client was granted). A wrong token, or a client that does not
//!   exist or was not registered here, is 401 `invalid_token` (RFC 7592 §2.1).

use super::policy::{self, ADMIN_ONLY};
use super::{Registered, RegistrationError, new_client};
use crate::config::FeatureFlag;
use crate::crypto::secrets::{ct_eq, random_token, sha256_b64};
use crate::model::Client;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::form::{is_json, read_body};
use crate::oauth::token::no_store;
use crate::oauth::{OAuthError, ssa};
use crate::server::AppState;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Members a client replacing its registration must not send (RFC 7592 §2.2).
const NOT_IN_UPDATE: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

impl From<RegistrationError> for OAuthError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::InvalidMetadata(d) => OAuthError::Refused {
                code: "invalid_client_metadata".into(),
                description: d,
            },
            RegistrationError::InvalidRedirectUri(d) => OAuthError::Refused {
                code: "invalid_redirect_uri".into(),
                description: d,
            },
            RegistrationError::Store(e) => e.into(),
        }
    }
}

impl From<RegistrationError> for BearerError {
    fn from(e: RegistrationError) -> Self {
        BearerError::OAuth(e.into())
    }
}

/// `POST /register`: RFC 7591 §3.1.
pub async fn register(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Registration)?;
    let token = bearer::from_header(req.headers())?;
    let body = json_object(&state, req).await?;
    // A software statement this server issued (SSA on) stands in for an initial access token.
    let statement = match body.get("software_statement") {
        None => None,
        Some(_) if !state.is_enabled(FeatureFlag::Ssa) => None,
        Some(Value::String(jwt)) => Some(ssa::verify(&state, jwt).await?),
        Some(_) => {
            return Err(OAuthError::Refused {
                code: "invalid_software_statement".into(),
                description: "software_statement must be a JWT".into(),
            }
            .into());
        }
    };
    if !state.settings().registration.open && statement.is_none() {
        let token = token.ok_or(BearerError::Missing)?;
        let scope = &state.settings().registration.initial_access_token_scope;
        bearer::scoped_caller(&state, &token, scope).await?;
    }
    let metadata = policy::metadata_from_request(&state, body, None, statement.as_ref()).await?;
    if let Some(s) = &statement {
        ssa::consume(&state, s).await?;
    }
    let reg = new_client(state.master_key(), metadata, state.now());
    let token = random_token(32);
    state
        .store()
        .insert_dynamic_client(&reg.client, &sha256_b64(token.as_bytes()), state.now())
        .await?;
    tracing::info!(client_id = %reg.client.client_id, "client registered dynamically");
    Ok(information(&state, StatusCode::CREATED, &reg, &token))
}

/// `GET /register/{client_id}`: RFC 7592 §2.1. The registration access token just presented is
/// the one answered; the secret is not (it is stored hashed).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Registration)?;
    let (client, token, _) = managed_client(&state, &client_id, &headers).await?;
    let reg = Registered {
        client,
        secret: None,
    };
    Ok(information(&state, StatusCode::OK, &reg, &token))
}

/// `PUT /register/{client_id}`: RFC 7592 §2.2. The request replaces every value the client
/// may set (an absent one takes its default); what an administrator set stays. A new secret
/// is issued only when the new auth method needs one the client does not have; a new
/// registration access token always.
pub async fn replace(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    req: Request,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Registration)?;
    let (current, _, token_hash) = managed_client(&state, &client_id, req.headers()).await?;
    let body = json_object(&state, req).await?;
    if let Some(f) = NOT_IN_UPDATE.iter().find(|f| body.contains_key(**f)) {
        return Err(
            OAuthError::invalid_request(format!("the request must not include {f}")).into(),
        );
    }
    if body.get("client_id").and_then(Value::as_str) != Some(current.client_id.as_str()) {
        return Err(
            OAuthError::invalid_request("client_id: must be the client's identifier").into(),
        );
    }
    if let Some(given) = body.get("client_secret") {
        let matches = given
            .as_str()
            .zip(current.secret_hash.as_deref())
            .is_some_and(|(given, hash)| {
                ct_eq(sha256_b64(given.as_bytes()).as_bytes(), hash.as_bytes())
            });
        if !matches {
            return Err(OAuthError::invalid_request(
                "client_secret: does not match the client's secret",
            )
            .into());
        }
    }
    let metadata =
        policy::metadata_from_request(&state, body, Some(&current.metadata), None).await?;
    let mut client = Client {
        metadata,
        ..current
    };
    let secret = super::credentials_for(&mut client, state.master_key());
    let new_token = random_token(32);
    let replaced = state
        .store()
        .replace_dynamic_client(
            &client,
            &token_hash,
            &sha256_b64(new_token.as_bytes()),
            state.now(),
        )
        .await?;
    if !replaced {
        // Another request with the same token won the race (and rotated it).
        return Err(BearerError::InvalidToken(
            "the registration access token is invalid",
        ));
    }
    tracing::info!(client_id = %client.client_id, "dynamic client registration replaced");
    let reg = Registered { client, secret };
    Ok(information(&state, StatusCode::OK, &reg, &new_token))
}

/// `DELETE /register/{client_id}`: RFC 7592 §2.3. The client is gone and every grant it holds
/// is revoked, in one transaction; then 204.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Registration)?;
    let (client, _, token_hash) = managed_client(&state, &client_id, &headers).await?;
    let deleted = state
        .store()
        .delete_dynamic_client(&client.client_id, &token_hash, state.now())
        .await?;
    if !deleted {
        return Err(BearerError::InvalidToken(
            "the registration access token is invalid",
        ));
    }
    tracing::info!(client_id = %client.client_id, "dynamic client registration deleted");
    Ok(no_store(StatusCode::NO_CONTENT))
}

/// The client `client_id` if the request's bearer token is its registration access token:
/// the client, the token and the stored hash the change must still find.
async fn managed_client(
    state: &AppState,
    client_id: &str,
    headers: &HeaderMap,
) -> Result<(Client, String, String), BearerError> {
    let token = bearer::from_header(headers)?.ok_or(BearerError::Missing)?;
    let invalid = BearerError::InvalidToken("the registration access token is invalid");
    let Some((client, hash)) = state.store().find_dynamic_client(client_id).await? else {
        return Err(invalid);
    };
    if !ct_eq(sha256_b64(token.as_bytes()).as_bytes(), hash.as_bytes()) {
        return Err(invalid);
    }
    Ok((client, token, hash))
}

/// The JSON object of a registration request.
async fn json_object(state: &AppState, req: Request) -> Result<Map<String, Value>, OAuthError> {
    if !is_json(req.headers()) {
        return Err(OAuthError::invalid_request(
            "the body must be application/json",
        ));
    }
    let body = read_body(req, state).await?;
    match serde_json::from_slice(&body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OAuthError::invalid_request(
            "the body must be a JSON object",
        )),
    }
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3), without the settings only
/// an administrator manages.
fn information(state: &AppState, status: StatusCode, reg: &Registered, token: &str) -> Response {
    let mut body = reg.to_json();
    if let Some(o) = body.as_object_mut() {
        for key in ADMIN_ONLY {
            o.remove(*key);
        }
    }
    body["registration_access_token"] = json!(token);
    body["registration_client_uri"] = json!(format!(
        "{}/{}",
        state.urls().registration,
        reg.client.client_id
    ));
    no_store((status, Json(body)).into_response())
}
