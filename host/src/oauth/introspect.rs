//! Token introspection (RFC 7662, flag INTROSPECTION). Callers are confidential clients that
//! authenticate, or bearers of an access token with the `introspection` scope (RFC 7662 §2.1,
//! §4: protected against token scanning). Unknown, expired and revoked tokens are all just
//! `{"active": false}`. The introspection plugins bound to the token's client may change the
//! response; the answer is JSON, or a signed JWT (RFC 9701) when the caller asks for one.

use crate::config::FeatureFlag;
use crate::crypto::secrets::sha256_b64;
use crate::model::{Client, Grant, TokenKind, TokenRecord};
use crate::oauth::OAuthError;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::{no_store, sign_jwt};
use crate::plugins::Introspected;
use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The scope a bearer caller needs (Janssen's name).
pub const INTROSPECTION_SCOPE: &str = "introspection";
/// The UMA scope Janssen may require as well.
pub const UMA_PROTECTION_SCOPE: &str = "uma_protection";
/// RFC 9701 media type of a signed introspection response.
pub const JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Introspection)?;
    let caller = caller(&state, &headers, &form).await?;
    let token = form.require("token")?;
    // token_type_hint only picks where to look first (RFC 7662 §2.1); every kind is found by
    // the hash of the value in one lookup.
    let now = state.now();
    let found = match state
        .store()
        .find_token_in_grant(&sha256_b64(token.as_bytes()))
        .await?
        .filter(|(t, _)| t.is_active(now))
    {
        Some((t, grant)) => with_client(&state, t, grant).await?,
        None => None,
    };
    let response = match &found {
        Some((t, grant, _)) => active_response(&state, t, grant).await?,
        None => Map::from_iter([("active".to_string(), Value::Bool(false))]),
    };
    let response = state
        .hooks()
        .introspection(
            &caller,
            found.as_ref().map(|(token, grant, client)| Introspected {
                token,
                grant,
                client,
            }),
            state.settings().introspection.script_backward_compatibility,
            response,
        )
        .await?;
    let response = Value::Object(response);
    if wants_jwt(&headers, &form) {
        return Ok(signed(&state, &caller, response)?);
    }
    Ok(no_store(Json(response)))
}

/// The caller: a bearer access token's client, or a client that authenticates. Public clients
/// may not introspect, and a bearer token needs the configured scopes, unless
/// `skip_authorization` is set.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Arc<Client>, BearerError> {
    let settings = &state.settings().introspection;
    if let Some(token) = bearer::from_header(headers)? {
        let record = bearer::active_access_token(state, &token).await?;
        if !settings.skip_authorization {
            for (required, scope) in [
                (
                    settings.access_token_must_have_introspection_scope,
                    INTROSPECTION_SCOPE,
                ),
                (
                    settings.access_token_must_have_uma_protection_scope,
                    UMA_PROTECTION_SCOPE,
                ),
            ] {
                if required && !crate::model::scope::contains(&record.scope, scope) {
                    return Err(BearerError::InsufficientScope(scope.into()));
                }
            }
        }
        return bearer::client_of(state, &record).await;
    }
    let client =
        client_auth::authenticate(state, headers, form, &state.urls().introspection).await?;
    if client.is_public() && !settings.skip_authorization {
        return Err(
            OAuthError::invalid_client("public clients may not introspect tokens", false).into(),
        );
    }
    Ok(client)
}

/// An active token with its grant and client; `None` when the client is gone (deleted since).
async fn with_client(
    state: &AppState,
    token: TokenRecord,
    grant: Grant,
) -> Result<Option<(TokenRecord, Grant, Arc<Client>)>, BearerError> {
    let Some(client) = state.store().find_client(&token.client_id).await? else {
        return Ok(None);
    };
    Ok(Some((token, grant, client)))
}

/// The RFC 7662 §2.2 members of an active token's response (plus RFC 9470's `acr` and
/// `auth_time` for user tokens); members without a value are left out.
async fn active_response(
    state: &AppState,
    t: &TokenRecord,
    grant: &Grant,
) -> Result<Map<String, Value>, BearerError> {
    let scopes_as_array = state
        .settings()
        .introspection
        .response_scopes_backward_compatibility;
    let mut r = Map::new();
    r.insert("active".into(), json!(true));
    if !t.scope.is_empty() {
        r.insert(
            "scope".into(),
            if scopes_as_array {
                json!(t.scope.split(' ').collect::<Vec<_>>())
            } else {
                json!(t.scope)
            },
        );
    }
    r.insert("client_id".into(), json!(t.client_id));
    if let Some(user_id) = &grant.user_id
        && let Some(user) = state.store().find_user(user_id).await?
    {
        r.insert("username".into(), json!(user.username));
    }
    r.insert(
        "token_type".into(),
        json!(match t.kind {
            TokenKind::AccessToken if t.jkt.is_some() => "DPoP",
            TokenKind::AccessToken => "Bearer",
            TokenKind::RefreshToken => "refresh_token",
        }),
    );
    // RFC 9449 §6.2: the key a bound token needs.
    if let Some(jkt) = &t.jkt {
        r.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    r.insert("exp".into(), json!(t.expires_at));
    r.insert("iat".into(), json!(t.issued_at));
    r.insert("nbf".into(), json!(t.issued_at));
    r.insert(
        "sub".into(),
        json!(t.subject.as_deref().unwrap_or(&t.client_id)),
    );
    if !t.audience.is_empty() {
        // An array, as in the JWT access token (RFC 7662 §2.2 allows either form).
        r.insert("aud".into(), json!(t.audience));
    }
    r.insert("iss".into(), json!(state.issuer()));
    insert_authentication(&mut r, grant);
    if let Some(jti) = &t.jti {
        r.insert("jti".into(), json!(jti));
    }
    // Claims update-token plugins added to a reference token; the standard members above win.
    if let Some(extra) = &t.claims
        && let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra)
    {
        for (k, v) in extra {
            r.entry(k).or_insert(v);
        }
    }
    Ok(r)
}

/// How the user of a grant authenticated, for step-up decisions: `acr` and `auth_time` (RFC 9470
/// §6.2 registers both as introspection response members). Client grants have neither.
pub fn insert_authentication(r: &mut Map<String, Value>, grant: &Grant) {
    if let Some(auth) = &grant.auth {
        r.insert("acr".into(), json!(auth.acr));
        r.insert("auth_time".into(), json!(auth.auth_time));
    }
}

/// RFC 9701 §4: the caller asks with `Accept: application/token-introspection+jwt`; Janssen
/// clients with `response_as_jwt=true`.
fn wants_jwt(headers: &HeaderMap, form: &OAuthForm) -> bool {
    form.get("response_as_jwt") == Some("true")
        || headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|m| {
                m.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case(JWT_MEDIA_TYPE))
            })
}

/// RFC 9701 §5: the response inside `token_introspection`, signed by the server, for the caller.
fn signed(state: &AppState, caller: &Client, response: Value) -> Result<Response, OAuthError> {
    let alg_name = caller
        .metadata
        .introspection_signed_response_alg
        .as_deref()
        .unwrap_or("RS256");
    let claims = json!({
        "iss": state.issuer(),
        "aud": caller.client_id,
        "iat": state.now(),
        "token_introspection": response,
    });
    let jwt = sign_jwt(state, alg_name, "token-introspection+jwt", &claims)?;
    let mut resp = no_store(jwt).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JWT_MEDIA_TYPE),
    );
    Ok(resp)
}
