//! Software statement assertions (flag SSA; Janssen's SSA endpoint): signed statements an
//! administrator's client issues for an organisation's software, which a dynamic registration
//! then presents as `software_statement` (RFC 7591 §2.3) instead of an initial access token.
//!
//! - `POST /ssa` (bearer token with `[ssa] admin_scope`): `{"org_id", "software_id",
//!   "software_roles", "grant_types", "expiration", "one_time_use", "description"}` → 201
//!   `{"ssa": "<JWT>"}`, signed with the server's `[ssa] signing_alg` key.
//! - `GET /ssa?jti=&org_id=`: the SSAs issued (never the JWTs again), `DELETE /ssa?jti=` or
//!   `?org_id=`: revoke them.
//! - `GET /ssa/jwks`: the public keys SSAs are signed with.
//!
//! At registration a statement must verify against those keys, be unexpired, be one this server
//! issued and still active; a one-time SSA is then used up (one conditional UPDATE). Its claims
//! win over the request's metadata (RFC 7591 §2.3): `software_id` and `grant_types`, and the
//! statement itself is kept with the client.

use crate::config::FeatureFlag;
use crate::crypto::SigningAlg;
use crate::crypto::secrets::random_token;
use crate::model::client::IMPLEMENTED_GRANT_TYPES;
use crate::oauth::OAuthError;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::token::{no_store, sign_jwt};
use crate::server::AppState;
use crate::store::SsaRow;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// A request to issue an SSA.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SsaRequest {
    org_id: String,
    software_id: String,
    #[serde(default)]
    software_roles: Vec<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    expiration: Option<i64>,
    #[serde(default = "yes")]
    one_time_use: bool,
    description: Option<String>,
}

fn yes() -> bool {
    true
}

/// Which SSAs a list or revocation is about.
#[derive(Debug, Deserialize)]
pub struct SsaQuery {
    /// One SSA.
    pub jti: Option<String>,
    /// Every SSA of an organisation.
    pub org_id: Option<String>,
}

/// What a verified software statement vouches for.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Its `jti`.
    pub jti: String,
    /// Whether registering uses it up.
    pub one_time_use: bool,
    /// `software_id`.
    pub software_id: String,
    /// `grant_types` (empty: the request's stand).
    pub grant_types: Vec<String>,
    /// The JWT itself, kept with the client.
    pub jwt: String,
}

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<String, BearerError> {
    state.require(FeatureFlag::Ssa)?;
    let token = bearer::from_header(headers)?.ok_or(BearerError::Missing)?;
    let (_, client) =
        bearer::scoped_caller(state, &token, &state.settings().ssa.admin_scope).await?;
    Ok(client.client_id)
}

/// `POST /ssa`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BearerError> {
    let creator = admin(&state, &headers).await?;
    if !crate::oauth::form::is_json(&headers) {
        return Err(OAuthError::invalid_request("the body must be application/json").into());
    }
    let req: SsaRequest =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&body))
            .map_err(|e| OAuthError::invalid_request(format!("{}: {}", e.path(), e.inner())))?;
    let now = state.now();
    let bad = |d: String| BearerError::from(OAuthError::invalid_request(d));
    if req.org_id.is_empty() || req.software_id.is_empty() {
        return Err(bad("org_id and software_id must not be empty".into()));
    }
    if let Some(g) = req
        .grant_types
        .iter()
        .find(|g| !IMPLEMENTED_GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(bad(format!("grant_types: {g:?} is not implemented")));
    }
    let expires_at = req
        .expiration
        .unwrap_or(now + state.settings().ssa.lifetime);
    if expires_at <= now {
        return Err(bad("expiration must be in the future".into()));
    }
    let jti = random_token(16);
    let mut claims = json!({
        "iss": state.settings().issuer(),
        "iat": now,
        "exp": expires_at,
        "jti": jti,
        "org_id": req.org_id,
        "software_id": req.software_id,
        "software_roles": req.software_roles,
        "grant_types": req.grant_types,
        "one_time_use": req.one_time_use,
    });
    if let Some(d) = &req.description {
        claims["description"] = json!(d);
    }
    let jwt = sign_jwt(&state, &state.settings().ssa.signing_alg, "JWT", &claims)?;
    state
        .store()
        .insert_ssa(&SsaRow {
            jti: jti.clone(),
            org_id: req.org_id,
            software_id: req.software_id,
            claims: claims.to_string(),
            one_time_use: req.one_time_use,
            status: "active".into(),
            created_by: creator,
            created_at: now,
            expires_at,
        })
        .await?;
    tracing::info!(jti, "software statement issued");
    Ok(no_store((StatusCode::CREATED, Json(json!({ "ssa": jwt })))))
}

/// `GET /ssa`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SsaQuery>,
) -> Result<Response, BearerError> {
    admin(&state, &headers).await?;
    let rows = state
        .store()
        .list_ssas(q.jti.as_deref(), q.org_id.as_deref())
        .await?;
    let now = state.now();
    let out: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut v: Value = serde_json::from_str(&r.claims).unwrap_or_else(|_| json!({}));
            let status = if r.status == "active" && r.expires_at <= now {
                "expired"
            } else {
                r.status.as_str()
            };
            v["status"] = json!(status);
            v["created_by"] = json!(r.created_by);
            v
        })
        .collect();
    Ok(no_store(Json(Value::Array(out))))
}

/// `DELETE /ssa?jti=` or `?org_id=`: revokes; 404 when nothing was active.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SsaQuery>,
) -> Result<Response, BearerError> {
    admin(&state, &headers).await?;
    if q.jti.is_none() && q.org_id.is_none() {
        return Err(OAuthError::invalid_request("jti or org_id is required").into());
    }
    let n = state
        .store()
        .revoke_ssas(q.jti.as_deref(), q.org_id.as_deref())
        .await?;
    if n == 0 {
        return Ok(no_store((
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found"})),
        )));
    }
    tracing::info!(revoked = n, "software statements revoked");
    Ok(no_store(Json(json!({ "revoked": n }))))
}

/// `GET /ssa/jwks`: the public keys of the SSA signing algorithm.
pub async fn jwks(State(state): State<AppState>) -> Response {
    if let Err(e) = state.require(FeatureFlag::Ssa) {
        return e.into_response();
    }
    let alg = &state.settings().ssa.signing_alg;
    let all: Value = serde_json::from_str(&state.keys().load().jwks).unwrap_or_else(|_| json!({}));
    let keys: Vec<&Value> = all["keys"]
        .as_array()
        .map(|k| k.iter().filter(|k| k["alg"] == alg.as_str()).collect())
        .unwrap_or_default();
    let mut resp = Json(json!({ "keys": keys })).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}

/// A software statement presented at registration: signed by this server with the SSA
/// algorithm, unexpired, issued here and still active. Not used up yet (see [`consume`]).
pub async fn verify(state: &AppState, jwt: &str) -> Result<Statement, OAuthError> {
    let invalid = |d: &'static str| OAuthError::Refused {
        code: "invalid_software_statement".into(),
        description: d.into(),
    };
    let unapproved = |d: &'static str| OAuthError::Refused {
        code: "unapproved_software_statement".into(),
        description: d.into(),
    };
    let own = state
        .keys()
        .load()
        .verify_own(jwt)
        .ok_or_else(|| invalid("the software statement is not signed by this server"))?;
    let header_alg = jsonwebtoken::decode_header(jwt)
        .ok()
        .map(|h| format!("{:?}", h.alg));
    if header_alg.as_deref()
        != SigningAlg::parse(&state.settings().ssa.signing_alg).map(|a| a.name())
    {
        return Err(invalid(
            "the software statement is not signed with the SSA algorithm",
        ));
    }
    let c = &own.claims;
    let now = state.now();
    if c.get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= now)
    {
        return Err(unapproved("the software statement has expired"));
    }
    let jti = c
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the software statement has no jti"))?;
    let row = state
        .store()
        .find_ssa(jti)
        .await?
        .ok_or_else(|| unapproved("the software statement is unknown"))?;
    match row.status.as_str() {
        "active" => {}
        "used" => return Err(unapproved("the software statement was already used")),
        _ => return Err(unapproved("the software statement was revoked")),
    }
    Ok(Statement {
        jti: row.jti,
        one_time_use: row.one_time_use,
        software_id: row.software_id,
        grant_types: c
            .get("grant_types")
            .and_then(|g| serde_json::from_value(g.clone()).ok())
            .unwrap_or_default(),
        jwt: jwt.to_string(),
    })
}

/// Uses up a one-time statement; `unapproved_software_statement` if a concurrent registration
/// used (or an administrator revoked) it first.
pub async fn consume(state: &AppState, s: &Statement) -> Result<(), OAuthError> {
    if s.one_time_use && !state.store().use_ssa(&s.jti).await? {
        return Err(OAuthError::Refused {
            code: "unapproved_software_statement".into(),
            description: "the software statement was already used".into(),
        });
    }
    Ok(())
}
