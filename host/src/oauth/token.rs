//! The token endpoint (RFC 6749 §3.2): authenticate the client, dispatch on `grant_type`, answer
//! with `Cache-Control: no-store`. Also the shared access-token minting every grant uses.

use crate::clock::UnixTime;
use crate::crypto::SigningAlg;
use crate::crypto::secrets::{random_token, sha256_b64};
use crate::model::{Client, Grant, TokenKind, TokenRecord};
use crate::oauth::client_auth;
use crate::oauth::form::OAuthForm;
use crate::oauth::{OAuthError, authorization_code, client_credentials, device, dpop, refresh};
use crate::plugins::TokenDraft;
use crate::plugins::bindings::types::TokenKind as PluginTokenKind;
use crate::plugins::hooks::PROTECTED_CLAIMS;
use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// `POST /token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &headers, &form, &state.urls().token).await?;
    let grant_type = form.require("grant_type")?;
    // RFC 9449 §5: a proof binds the tokens issued to its key.
    let proof = dpop::verify(&state, &headers, &Method::POST, &state.urls().token, None).await?;
    if proof.is_none() && client.metadata.dpop_bound_access_tokens {
        return Err(OAuthError::invalid_request(
            "this client must send a DPoP proof (dpop_bound_access_tokens)",
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let response = match grant_type {
        "client_credentials" => client_credentials::grant(&state, &client, &form, jkt).await?,
        "authorization_code" => authorization_code::grant(&state, &client, &form, jkt).await?,
        "refresh_token" => refresh::grant(&state, &client, &form, jkt).await?,
        device::GRANT_TYPE => device::grant(&state, &client, &form, jkt).await?,
        other => {
            return Err(OAuthError::UnsupportedGrantType(
                format!("grant_type {other:?} is not supported").into(),
            ));
        }
    };
    count_issued(&state, &client, grant_type, &response);
    audit_issued(&state, &client, grant_type, &response).await;
    let mut resp = no_store(Json(response));
    if proof.is_some() && state.settings().dpop.use_nonce {
        dpop::add_nonce(&state, &mut resp);
    }
    Ok(resp)
}

/// Counts the tokens of a response in the metrics and the usage statistics.
fn count_issued(state: &AppState, client: &Client, grant_type: &str, r: &TokenResponse) {
    let m = state.metrics();
    let stats = state.stats();
    let now = state.now();
    let format = if client.metadata.access_token_as_jwt {
        "jwt"
    } else {
        "reference"
    };
    let issued = [
        Some(("access_token", format)),
        r.refresh_token
            .as_ref()
            .map(|_| ("refresh_token", "reference")),
        r.id_token.as_ref().map(|_| ("id_token", "jwt")),
    ];
    for (kind, format) in issued.into_iter().flatten() {
        m.token_issued(grant_type, kind, format);
        stats.token_issued(now, &client.client_id, grant_type, kind);
    }
}

/// Records the issuance in the audit log when OAuth audit logging is on (never the tokens).
async fn audit_issued(state: &AppState, client: &Client, grant_type: &str, r: &TokenResponse) {
    let event = if grant_type == "refresh_token" {
        "token_refreshed"
    } else {
        "token_issued"
    };
    let details = serde_json::json!({
        "grant_type": grant_type,
        "scope": r.scope,
        "refresh_token": r.refresh_token.is_some(),
        "id_token": r.id_token.is_some(),
    });
    crate::admin::audit::oauth_event(state, event, &client.client_id, None, details).await;
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `DPoP` for a token bound to a DPoP key (RFC 9449 §5), else `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// A refresh token, when the grant allows one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token, for OpenID requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// A response carrying `access` (no refresh or ID token yet).
    pub fn new(access: MintedToken, now: UnixTime, scope: String) -> Self {
        Self {
            token_type: if access.record.jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            },
            access_token: access.token,
            expires_in: access.record.expires_at - now,
            scope,
            refresh_token: None,
            id_token: None,
        }
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn no_store(r: impl IntoResponse) -> Response {
    let mut resp = r.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// An access token and the record that makes it introspectable and revocable.
pub struct MintedToken {
    /// The token string sent to the client.
    pub token: String,
    /// Its stored record.
    pub record: TokenRecord,
}

/// Mints an access token for `grant` with `scope` (the grant's, or narrower): a signed RFC 9068
/// JWT or an opaque reference token, as the client chose; recorded by the hash of the token
/// string either way. update-token plugins bound to the client may add claims (inside the JWT,
/// or stored for introspection) and shorten the lifetime. `jkt`: the DPoP key it is bound to
/// (`cnf.jkt`, RFC 9449 §6).
pub async fn mint_access_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    scope: &str,
    audience: Vec<String>,
    jkt: Option<&str>,
    now: UnixTime,
) -> Result<MintedToken, OAuthError> {
    let s = state.settings();
    let lifetime = client
        .metadata
        .access_token_lifetime
        .unwrap_or(s.tokens.access_token_lifetime);
    let as_jwt = client.metadata.access_token_as_jwt;
    let jti = as_jwt.then(crate::crypto::secrets::ordered_id);
    // RFC 9068 §2.2 claims; every one of them is protected from plugins.
    let mut standard = serde_json::Map::new();
    standard.insert("iss".into(), json!(s.issuer()));
    standard.insert(
        "sub".into(),
        json!(grant.subject.as_deref().unwrap_or(&client.client_id)),
    );
    standard.insert("aud".into(), json!(audience));
    standard.insert("exp".into(), json!(now + lifetime));
    standard.insert("iat".into(), json!(now));
    if let Some(jti) = &jti {
        standard.insert("jti".into(), json!(jti));
    }
    standard.insert("client_id".into(), json!(client.client_id));
    if !scope.is_empty() {
        standard.insert("scope".into(), json!(scope));
    }
    if let Some(jkt) = jkt {
        standard.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let (mut claims, lifetime) = state
        .hooks()
        .update_token(TokenDraft {
            kind: PluginTokenKind::AccessToken,
            client,
            grant,
            claims: standard,
            lifetime,
        })
        .await?;
    let exp = now + lifetime;
    claims.insert("exp".into(), json!(exp));
    if as_jwt && client.metadata.run_introspection_script_before_jwt_creation {
        introspection_claims(state, client, grant, scope, now, exp, &mut claims).await?;
    }
    let (token, format, extra) = if as_jwt {
        let alg_name = client
            .metadata
            .access_token_signing_alg
            .as_deref()
            .unwrap_or(&s.tokens.access_token_signing_alg);
        let jwt = sign_jwt(state, alg_name, "at+jwt", &Value::Object(claims))?;
        (jwt, "jwt", None)
    } else {
        // What plugins added is kept with the record, for introspection (every standard claim is
        // protected, so the unprotected ones are exactly the plugins').
        claims.retain(|k, _| !PROTECTED_CLAIMS.contains(&k.as_str()));
        let extra = (!claims.is_empty()).then(|| Value::Object(claims).to_string());
        (random_token(32), "reference", extra)
    };
    let record = TokenRecord {
        token_hash: sha256_b64(token.as_bytes()),
        grant_id: grant.grant_id.clone(),
        kind: TokenKind::AccessToken,
        format: format.into(),
        jti,
        client_id: client.client_id.clone(),
        subject: grant.subject.clone(),
        scope: scope.to_string(),
        audience,
        issued_at: now,
        expires_at: exp,
        revoked_at: None,
        consumed_at: None,
        claims: extra,
        jkt: jkt.map(str::to_string),
    };
    Ok(MintedToken { token, record })
}

/// Signs `claims` as a JWT of type `typ` with the server's current key for `alg_name` (a
/// client's registered algorithm, validated at registration, or a server default).
pub fn sign_jwt(
    state: &AppState,
    alg_name: &str,
    typ: &str,
    claims: &impl Serialize,
) -> Result<String, OAuthError> {
    let alg = SigningAlg::parse(alg_name).ok_or_else(|| {
        OAuthError::Server(anyhow::anyhow!("unsupported JWS algorithm {alg_name}"))
    })?;
    let keys = state.keys().load();
    let key = keys
        .signer(alg)
        .ok_or_else(|| OAuthError::Server(anyhow::anyhow!("no signing key for {}", alg.name())))?;
    crate::crypto::jwt::sign(key, typ, claims).map_err(|e| OAuthError::Server(e.into()))
}

/// Seed 001's "Run introspection script before access token as JWT creation and include
/// claims": the introspection plugins see the token as an active introspection response, and
/// the members they add become claims of the JWT (protected claims stay the server's; a plugin
/// that reports the token inactive adds nothing).
async fn introspection_claims(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    scope: &str,
    now: UnixTime,
    exp: UnixTime,
    claims: &mut serde_json::Map<String, Value>,
) -> Result<(), OAuthError> {
    let draft = TokenRecord {
        token_hash: String::new(),
        grant_id: grant.grant_id.clone(),
        kind: TokenKind::AccessToken,
        format: "jwt".into(),
        jti: claims
            .get("jti")
            .and_then(Value::as_str)
            .map(str::to_string),
        client_id: client.client_id.clone(),
        subject: grant.subject.clone(),
        scope: scope.to_string(),
        audience: Vec::new(),
        issued_at: now,
        expires_at: exp,
        revoked_at: None,
        consumed_at: None,
        claims: None,
        jkt: None,
    };
    let mut response = claims.clone();
    response.insert("active".into(), Value::Bool(true));
    crate::oauth::introspect::insert_authentication(&mut response, grant);
    let out = state
        .hooks()
        .introspection(
            client,
            Some(crate::plugins::Introspected {
                token: &draft,
                grant,
                client,
            }),
            state.settings().introspection.script_backward_compatibility,
            response,
        )
        .await?;
    if out.get("active") == Some(&Value::Bool(true)) {
        for (k, v) in out {
            if k != "active" && !PROTECTED_CLAIMS.contains(&k.as_str()) {
                claims.insert(k, v);
            }
        }
    }
    Ok(())
}

/// Mints an opaque refresh token for `grant` (always the grant's whole scope: a narrowed
/// refresh narrows the access token only, RFC 6749 §6). A public client's is bound to its DPoP
/// key `jkt`, if it used one (RFC 9449 §5); a confidential client's is bound by its
/// authentication already.
pub fn mint_refresh_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    jkt: Option<&str>,
    now: UnixTime,
) -> MintedToken {
    let lifetime = client
        .metadata
        .refresh_token_lifetime
        .unwrap_or(state.settings().tokens.refresh_token_lifetime);
    let token = random_token(32);
    let record = TokenRecord {
        token_hash: sha256_b64(token.as_bytes()),
        grant_id: grant.grant_id.clone(),
        kind: TokenKind::RefreshToken,
        format: "reference".into(),
        jti: None,
        client_id: client.client_id.clone(),
        subject: grant.subject.clone(),
        scope: grant.scope.clone(),
        audience: vec![client.client_id.clone()],
        issued_at: now,
        expires_at: now + lifetime,
        revoked_at: None,
        consumed_at: None,
        claims: None,
        jkt: jkt.filter(|_| client.is_public()).map(str::to_string),
    };
    MintedToken { token, record }
}

/// Whether a user grant gets a refresh token: the client is registered for the
/// `refresh_token` grant and, unless the server says otherwise, `offline_access` was granted.
pub fn issues_refresh_token(state: &AppState, client: &Client, scope: &str) -> bool {
    client.allows_grant("refresh_token")
        && (!state.settings().tokens.require_offline_access_for_refresh
            || scope.split(' ').any(|s| s == "offline_access"))
}

/// Revokes a grant whose single-use credential (`what`: a code, a rotated refresh token) was
/// presented again (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
pub async fn revoke_on_replay(
    state: &AppState,
    grant_id: &str,
    what: &'static str,
) -> Result<(), OAuthError> {
    if state.store().revoke_grant(grant_id, state.now()).await? {
        tracing::warn!(
            grant_id,
            what,
            "single-use credential presented again; grant revoked"
        );
    }
    Ok(())
}
