//! Pushed authorization requests (RFC 9126, flag PAR). The client sends its authorization
//! request to `POST /par`, authenticated as at the token endpoint; the request is validated as
//! `/authorize` would validate it, and stored under a one-time `request_uri` that lives
//! `par_lifetime` seconds (the client's, else the server's). `/authorize` then takes
//! `client_id` + `request_uri` and ignores every other parameter (§4). A client with
//! `require_pushed_authorization_requests`, or every client when the server property is on,
//! may not send an authorization request any other way (§5, §6).

use crate::config::FeatureFlag;
use crate::crypto::secrets::{random_token, sha256_b64};
use crate::http::{PeerIp, pages};
use crate::model::Client;
use crate::oauth::OAuthError;
use crate::oauth::authorize::{self, Failure};
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::oauth::{interaction, request_object};
use crate::server::AppState;
use crate::store::PushedRow;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The prefix of every `request_uri` this endpoint hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `POST /par`.
pub async fn par(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::Par)?;
    let client = client_auth::authenticate(&state, &headers, &form, &state.urls().par).await?;
    // §2.1: a pushed request cannot itself point at another one.
    if form.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri may not be sent to the pushed authorization request endpoint",
        ));
    }
    // The authorization request: the form without the client authentication parameters. Its
    // client_id, when sent, is the authenticated client (client authentication refuses a
    // different one); a client using HTTP Basic may leave it out (§2.1).
    let mut pairs: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| {
            !matches!(
                *k,
                "client_secret" | "client_assertion" | "client_assertion_type"
            )
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if form.get("client_id").is_none() {
        pairs.push(("client_id".into(), client.client_id.clone()));
    }
    let request = OAuthForm::from_pairs(pairs);
    // RFC 9126 §3: a signed request object is unpacked and checked as at /authorize.
    let request = request_object::parameters(&state, &request, Some(&client))
        .await?
        .unwrap_or(request);
    check(&state, &client, &request).await?;
    let params = serde_json::to_string(&request.iter().collect::<Vec<_>>())
        .map_err(|e| OAuthError::Server(anyhow::anyhow!("pushed request: {e}")))?;
    let lifetime = client
        .metadata
        .par_lifetime
        .filter(|l| *l > 0)
        .unwrap_or(state.settings().authorize.par_lifetime);
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token(32));
    // A public client's id is no secret: whoever knows it may push. Live requests are bounded
    // per client address for those, as unfinished sign-ins are; a confidential client pushes
    // from its own servers, for all of its users.
    let ip = peer.filter(|_| client.is_public()).map(|ip| ip.to_string());
    let per_ip = ip
        .as_deref()
        .map(|ip| (ip, state.settings().authorize.max_pending_per_ip));
    let now = state.now();
    let row = PushedRow {
        request_uri_hash: sha256_b64(request_uri.as_bytes()),
        client_id: client.client_id.clone(),
        params,
        expires_at: now + lifetime,
    };
    if !state.store().insert_pushed(&row, now, per_ip).await? {
        return Err(OAuthError::TooManyRequests(
            "too many unused pushed requests from this address".into(),
        ));
    }
    let body = Json(json!({ "request_uri": request_uri, "expires_in": lifetime }));
    Ok(no_store((StatusCode::CREATED, body)).into_response())
}

/// The authorization request's checks, answered as JSON errors (§2.3) instead of redirects.
async fn check(state: &AppState, client: &Client, form: &OAuthForm) -> Result<(), OAuthError> {
    let (_, target) = authorize::trusted_target(state, form)
        .await
        .map_err(OAuthError::invalid_request)?;
    match authorize::validate(state, client, target, form).await {
        Ok(_) => Ok(()),
        Err(Failure::Page(msg)) => Err(OAuthError::invalid_request(msg)),
        Err(Failure::Redirect(code, description)) => Err(OAuthError::Refused {
            code: code.to_string(),
            description,
        }),
    }
}

/// At `/authorize`: when the request carries a `request_uri` from this endpoint, the pushed
/// request it stands for (used up here), with `true`; any other request as it came, with
/// `false` (a `request_uri` of another kind is refused later as unsupported). An unknown,
/// used, expired or another client's `request_uri` is an error page: there is no redirect URI
/// to trust.
pub async fn resolve(state: &AppState, form: OAuthForm) -> Result<(OAuthForm, bool), Response> {
    let Some(uri) = form.get("request_uri") else {
        return Ok((form, false));
    };
    if !uri.starts_with(REQUEST_URI_PREFIX) || !state.is_enabled(FeatureFlag::Par) {
        return Ok((form, false));
    }
    let refused = |code: &str, msg: &str| {
        pages::coded_error_page(StatusCode::BAD_REQUEST, "Request refused", code, msg)
    };
    // §4: client_id is required beside request_uri.
    let Some(client_id) = form.get("client_id") else {
        return Err(refused("invalid_request", "The request names no client."));
    };
    let taken = state
        .store()
        .take_pushed(&sha256_b64(uri.as_bytes()), state.now())
        .await;
    let params = match taken {
        Ok(Some((owner, params))) if owner == client_id => params,
        Ok(_) => {
            return Err(refused(
                "invalid_request_uri",
                "The request_uri is unknown, expired or already used.",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "pushed request lookup failed");
            return Err(interaction::unavailable());
        }
    };
    match serde_json::from_str::<Vec<(String, String)>>(&params) {
        Ok(pairs) => Ok((OAuthForm::from_pairs(pairs), true)),
        Err(e) => {
            tracing::error!(error = %e, "stored pushed request unreadable");
            Err(refused(
                "server_error",
                "The pushed request could not be read.",
            ))
        }
    }
}

/// Whether `client` may only send pushed authorization requests.
pub fn required(state: &AppState, client: &Client) -> bool {
    state.is_enabled(FeatureFlag::Par)
        && (state
            .settings()
            .authorize
            .require_pushed_authorization_requests
            || client.metadata.require_pushed_authorization_requests)
}
