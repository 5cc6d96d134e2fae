//! JWT-secured authorization requests (RFC 9101): the authorization request as a JWT signed by
//! the client, sent by value (`request`) or by reference (`request_uri`, fetched through the
//! outbound module, and only when the client registered that exact URI in `request_uris`).
//! Accepted at `/authorize` and at `/par`.
//!
//! The object must be signed with an asymmetric algorithm (the client's
//! `request_object_signing_alg` when it registered one) by a key of the client (`jwks` or
//! `jwks_uri`); its `client_id` must be the request's, `iss` (when present) the client, `aud`
//! (when present) this server, `exp`/`nbf` (when present) current. Then only the object's
//! parameters count (§5): the ones outside it, `client_id` aside, are ignored.

use crate::crypto::jwt::ASYMMETRIC_ALGS;
use crate::model::Client;
use crate::oauth::OAuthError;
use crate::oauth::client_auth::find_client_key;
use crate::oauth::form::{OAuthForm, REPEATABLE};
use crate::server::AppState;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 60;

/// Why a request object was refused (the reason is logged; the code goes to the client).
#[derive(Debug)]
pub enum JarError {
    /// `invalid_request_object`.
    Object(&'static str),
    /// `invalid_request_uri`.
    Uri(&'static str),
    /// The server failed (storage, a corrupt key).
    Server(OAuthError),
}

impl From<OAuthError> for JarError {
    fn from(e: OAuthError) -> Self {
        JarError::Server(e)
    }
}

impl From<JarError> for OAuthError {
    fn from(e: JarError) -> Self {
        let refused = |code: &str, why: &str| {
            tracing::debug!(code, why, "request object refused");
            OAuthError::Refused {
                code: code.into(),
                description: "the request object is invalid".into(),
            }
        };
        match e {
            JarError::Object(why) => refused("invalid_request_object", why),
            JarError::Uri(why) => refused("invalid_request_uri", why),
            JarError::Server(e) => e,
        }
    }
}

/// The error page of a refused request object at `/authorize`: no redirect, since the
/// redirect URI inside the object could not be trusted.
pub fn error_page(e: JarError) -> axum::response::Response {
    let (code, why) = match e {
        JarError::Object(why) => ("invalid_request_object", why),
        JarError::Uri(why) => ("invalid_request_uri", why),
        JarError::Server(e) => {
            tracing::error!(error = %e, "request object handling failed");
            return crate::oauth::interaction::unavailable();
        }
    };
    tracing::debug!(code, why, "request object refused");
    crate::http::pages::coded_error_page(
        axum::http::StatusCode::BAD_REQUEST,
        "Request refused",
        code,
        "The signed authorization request could not be accepted.",
    )
}

/// Whether `request_uri` is one this module fetches (not a pushed request's URN).
fn by_reference(uri: &str) -> bool {
    uri.starts_with("https://") || uri.starts_with("http://")
}

/// The parameters of the request object `form` carries (with `client_id`), or `None` when it
/// carries none. `client`: the authenticated client at `/par`; looked up from `client_id`
/// otherwise.
pub async fn parameters(
    state: &AppState,
    form: &OAuthForm,
    client: Option<&Client>,
) -> Result<Option<OAuthForm>, JarError> {
    let by_value = form.get("request");
    let by_ref = form.get("request_uri").filter(|u| by_reference(u));
    if by_value.is_none() && by_ref.is_none() {
        return Ok(None);
    }
    if by_value.is_some() && form.get("request_uri").is_some() {
        return Err(JarError::Object("request and request_uri together"));
    }
    let client_id = form.get("client_id").ok_or(JarError::Object(
        "client_id is required beside a request object",
    ))?;
    let found;
    let client = match client {
        Some(c) => c,
        None => {
            found = state
                .store()
                .find_client(client_id)
                .await
                .map_err(OAuthError::from)?
                .filter(|c| c.is_usable(state.now()))
                .ok_or(JarError::Object("unknown client"))?;
            &found
        }
    };
    let jwt = match (by_value, by_ref) {
        (Some(jwt), _) => jwt.to_string(),
        (None, Some(uri)) => fetch(state, client, uri).await?,
        (None, None) => return Ok(None),
    };
    let claims = verify(state, client, &jwt).await?;
    if claims.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(JarError::Object("client_id differs from the request's"));
    }
    Ok(Some(OAuthForm::from_pairs(pairs(claims)?)))
}

/// GETs a registered request URI; its body is the request object.
async fn fetch(state: &AppState, client: &Client, uri: &str) -> Result<String, JarError> {
    if !client.metadata.request_uris.iter().any(|r| r == uri) {
        return Err(JarError::Uri(
            "request_uri is not registered for the client",
        ));
    }
    let url = url::Url::parse(uri).map_err(|_| JarError::Uri("request_uri is not a URL"))?;
    if url.scheme() != "https" && !state.settings().authorize.allow_http_request_uri {
        return Err(JarError::Uri("request_uri must use https"));
    }
    let body = state.outbound().get(&url, state.now()).await.map_err(|e| {
        tracing::info!(request_uri = uri, error = %e, "fetching a request object failed");
        JarError::Uri("request_uri could not be fetched")
    })?;
    String::from_utf8(body)
        .map(|s| s.trim().to_string())
        .map_err(|_| JarError::Uri("request_uri did not answer a JWT"))
}

/// The object's claims once its algorithm, key, signature and standard claims pass.
async fn verify(
    state: &AppState,
    client: &Client,
    jwt: &str,
) -> Result<Map<String, Value>, JarError> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| JarError::Object("malformed JWT"))?;
    let alg = format!("{:?}", header.alg);
    if !ASYMMETRIC_ALGS.contains(&alg.as_str()) {
        return Err(JarError::Object(
            "the object must be signed with an asymmetric algorithm",
        ));
    }
    if client
        .metadata
        .request_object_signing_alg
        .as_deref()
        .is_some_and(|a| a != alg)
    {
        return Err(JarError::Object(
            "algorithm differs from request_object_signing_alg",
        ));
    }
    let jwk = find_client_key(state, client, header.kid.as_deref(), header.alg)
        .await
        .map_err(|_| JarError::Object("the client's keys could not be read"))?
        .ok_or(JarError::Object("no key of the client fits"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| JarError::Object("unusable client key"))?;
    let mut v = Validation::new(header.alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &v)
        .map_err(|_| JarError::Object("bad signature"))?
        .claims;
    let now = state.now();
    if claims
        .get("iss")
        .is_some_and(|i| i.as_str() != Some(client.client_id.as_str()))
    {
        return Err(JarError::Object("iss is not the client"));
    }
    if let Some(aud) = claims.get("aud") {
        let issuer = state.issuer();
        let ours = |v: &Value| {
            v.as_str()
                .is_some_and(|a| a == issuer || a.trim_end_matches('/') == issuer)
        };
        let ok = match aud {
            Value::Array(a) => a.iter().any(ours),
            other => ours(other),
        };
        if !ok {
            return Err(JarError::Object("aud is not this server"));
        }
    }
    if claims
        .get("exp")
        .is_some_and(|e| e.as_i64().is_none_or(|e| e + LEEWAY <= now))
    {
        return Err(JarError::Object("the object has expired"));
    }
    if claims
        .get("nbf")
        .is_some_and(|n| n.as_i64().is_none_or(|n| n > now + LEEWAY))
    {
        return Err(JarError::Object("the object is not valid yet"));
    }
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(JarError::Object("a request object may not nest another"));
    }
    Ok(claims)
}

/// The claims as request parameters: strings as they are, numbers and booleans as text, an
/// array of strings as a repeated parameter (`resource`), an object as its JSON (`claims`).
/// The JWT's own claims (`iss`, `aud`, `exp`, `nbf`, `iat`, `jti`) are not parameters.
fn pairs(claims: Map<String, Value>) -> Result<Vec<(String, String)>, JarError> {
    let mut out = Vec::new();
    for (k, v) in claims {
        if matches!(k.as_str(), "iss" | "aud" | "exp" | "nbf" | "iat" | "jti") {
            continue;
        }
        match v {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push((k, s)),
            Value::Number(n) => out.push((k, n.to_string())),
            Value::Bool(b) => out.push((k, b.to_string())),
            Value::Object(_) => out.push((k, v.to_string())),
            Value::Array(_) if !REPEATABLE.contains(&k.as_str()) => {
                return Err(JarError::Object("only repeatable parameters may be arrays"));
            }
            Value::Array(items) => {
                for item in items {
                    let Value::String(s) = item else {
                        return Err(JarError::Object("array claims must hold strings"));
                    };
                    out.push((k.clone(), s));
                }
            }
            Value::Null => {}
        }
    }
    Ok(out)
}
