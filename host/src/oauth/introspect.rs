//! Token introspection (RFC 7662, flag INTROSPECTION): an authenticated caller asks whether a
//! token is active; unknown, expired and revoked tokens are all just `{"active": false}`.

use crate::config::FeatureFlag;
use crate::crypto::secrets::sha256_b64;
use crate::model::TokenKind;
use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::Introspection)?;
    let _caller =
        client_auth::authenticate(&state, &headers, &form, &state.urls().introspection).await?;
    let token = form.require("token")?;
    // token_type_hint is optional and only an optimisation (RFC 7662 §2.1); lookup is by hash.
    let now = state.now();
    let response = match state
        .store()
        .find_token(&sha256_b64(token.as_bytes()))
        .await?
    {
        Some(t) if t.is_active(now) => {
            let mut r = json!({
                "active": true,
                "scope": t.scope,
                "client_id": t.client_id,
                "token_type": match t.kind { TokenKind::AccessToken => "Bearer", TokenKind::RefreshToken => "refresh_token" },
                "exp": t.expires_at,
                "iat": t.issued_at,
                "iss": state.settings().issuer(),
                "sub": t.subject.as_deref().unwrap_or(&t.client_id),
                "aud": t.audience,
            });
            if let Some(jti) = &t.jti {
                r["jti"] = Value::String(jti.clone());
            }
            // Claims update-token plugins added to a reference token; the standard members
            // above always win.
            if let (Some(extra), Value::Object(m)) = (&t.claims, &mut r)
                && let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra)
            {
                for (k, v) in extra {
                    m.entry(k).or_insert(v);
                }
            }
            r
        }
        _ => json!({ "active": false }),
    };
    Ok(no_store(Json(response)))
}
