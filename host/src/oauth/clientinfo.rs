//! Janssen's client info endpoint (flag CLIENTINFO): an OAuth-protected resource that answers,
//! for a bearer access token (RFC 6750 header or form body), the public attributes of the client
//! the token was issued to. Never a secret, never a key, never a redirect URI: what a client
//! shows on a consent page anyway. Bearer errors follow RFC 6750 §3 (Janssen answers 400; a
//! resource server's 401 with a challenge is what RFC 6750 asks for).

use crate::config::FeatureFlag;
use crate::model::Client;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// `GET /clientinfo` and `POST /clientinfo`.
pub async fn clientinfo(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::ClientInfo)?;
    let presented = bearer::from_request(&state, req).await?;
    let (record, _) = bearer::active_presented(&state, &presented).await?;
    let client = bearer::client_of(&state, &record).await?;
    Ok(no_store(Json(Value::Object(public_attributes(&client)))))
}

/// The client's public attributes under their RFC 7591 names, absent ones left out, plus the
/// two claims of Janssen's default `clientinfo` scope (`inum`, `name`) for its integrations.
fn public_attributes(client: &Client) -> Map<String, Value> {
    let m = &client.metadata;
    let mut out = Map::new();
    out.insert("client_id".into(), json!(client.client_id));
    out.insert("inum".into(), json!(client.client_id));
    let optional = [
        ("client_name", &m.client_name),
        ("description", &m.description),
        ("client_uri", &m.client_uri),
        ("logo_uri", &m.logo_uri),
        ("policy_uri", &m.policy_uri),
        ("tos_uri", &m.tos_uri),
        ("software_id", &m.software_id),
        ("software_version", &m.software_version),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            out.insert(k.into(), json!(v));
        }
    }
    if let Some(name) = &m.client_name {
        out.insert("name".into(), json!(name));
    }
    if !m.contacts.is_empty() {
        out.insert("contacts".into(), json!(m.contacts));
    }
    out.insert("application_type".into(), json!(m.application_type));
    out
}
