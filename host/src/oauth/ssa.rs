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
//! issued and still active; a one-time SSA is then used up (one conditional UPDATE). Statements
//! of operator-trusted issuers (`[ssa] trusted_issuers`) verify against their JWKS instead, and
//! a one-time one is recorded by `jti` until it expires. Its claims
//! win over the request's metadata (RFC 7591 §2.3): `software_id` and `grant_types`, and the
//! statement itself is kept with the client.

use crate::config::FeatureFlag;
use crate::crypto::SigningAlg;
use crate::crypto::secrets::{random_token, sha256_b64};
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
    /// For another issuer's statement: its replay key and expiry (one-time use is recorded
    /// like a client assertion's `jti`).
    pub external: Option<(String, i64)>,
    /// The JWT itself, kept with the client.
    pub jwt: String,
}

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<String, BearerError> {
    state.require(FeatureFlag::Ssa)?;
    let token = bearer::from_header(headers)?.ok_or(BearerError::Missing)?;
    let (_, client) =
        bearer::scoped_caller(state, &token, &state.settings().ssa.admin_scope).await?;
    Ok(client.client_id.clone())
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
        "iss": state.issuer(),
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

/// A software statement presented at registration. One this server issued: signed with the
/// SSA algorithm, unexpired, issued here and still active. One of an operator-trusted issuer
/// (`[ssa] trusted_issuers`): signed by a key of its JWKS with an asymmetric algorithm,
/// unexpired, with a `jti`. Not used up yet (see [`consume`]).
pub async fn verify(state: &AppState, jwt: &str) -> Result<Statement, OAuthError> {
    let claims = crate::crypto::jwt::unverified_claims(jwt)
        .ok_or_else(|| invalid("the software statement is not a JWT"))?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss == state.issuer() {
        return verify_own(state, jwt).await;
    }
    match state
        .settings()
        .ssa
        .trusted_issuers
        .iter()
        .find(|t| t.issuer == iss)
    {
        Some(t) => verify_trusted(state, jwt, &t.jwks_uri).await,
        None => Err(invalid(
            "the software statement is not signed by this server",
        )),
    }
}

fn invalid(d: &'static str) -> OAuthError {
    OAuthError::Refused {
        code: "invalid_software_statement".into(),
        description: d.into(),
    }
}

fn unapproved(d: &'static str) -> OAuthError {
    OAuthError::Refused {
        code: "unapproved_software_statement".into(),
        description: d.into(),
    }
}

fn statement(
    claims: &serde_json::Map<String, Value>,
    jwt: &str,
    jti: String,
    one_time_use: bool,
) -> Statement {
    Statement {
        jti,
        one_time_use,
        software_id: claims
            .get("software_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        grant_types: claims
            .get("grant_types")
            .and_then(|g| serde_json::from_value(g.clone()).ok())
            .unwrap_or_default(),
        external: None,
        jwt: jwt.to_string(),
    }
}

async fn verify_own(state: &AppState, jwt: &str) -> Result<Statement, OAuthError> {
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
    if c.get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= state.now())
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
    let mut s = statement(c, jwt, row.jti, row.one_time_use);
    s.software_id = row.software_id;
    Ok(s)
}

/// A statement of a trusted issuer, verified with its JWKS (fetched again once for an unknown
/// `kid`, for the issuer's key rotations).
async fn verify_trusted(
    state: &AppState,
    jwt: &str,
    jwks_uri: &str,
) -> Result<Statement, OAuthError> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| invalid("malformed JWT"))?;
    if !crate::crypto::jwt::ASYMMETRIC_ALGS.contains(&format!("{:?}", header.alg).as_str()) {
        return Err(invalid(
            "the software statement must be signed with an asymmetric algorithm",
        ));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| invalid("the software statement names no key"))?;
    let keys = |force| state.jwks_cache().get(state, jwks_uri, force);
    let unreadable = |_| unapproved("the issuer's keys could not be read");
    let mut set = keys(false).await.map_err(unreadable)?;
    if set.find(kid).is_none() {
        set = keys(true).await.map_err(unreadable)?;
    }
    let jwk = set
        .find(kid)
        .ok_or_else(|| invalid("no key of the issuer fits"))?;
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable issuer key"))?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_aud = false;
    // Expiry against the server's clock, below.
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "iss", "jti"]);
    let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(jwt, &key, &v)
        .map_err(|_| invalid("the software statement does not verify"))?
        .claims;
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| exp <= state.now())
    {
        return Err(unapproved("the software statement has expired"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let one_time = claims
        .get("one_time_use")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut s = statement(&claims, jwt, jti.clone(), one_time);
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    s.external = Some((
        sha256_b64(format!("ssa\u{0}{iss}\u{0}{jti}").as_bytes()),
        exp,
    ));
    Ok(s)
}

/// Uses up a one-time statement: ours by marking it used, another issuer's by recording its
/// `jti` until it expires; `unapproved_software_statement` if a concurrent registration used (or
/// an administrator revoked) it first.
pub async fn consume(state: &AppState, s: &Statement) -> Result<(), OAuthError> {
    if !s.one_time_use {
        return Ok(());
    }
    let fresh = match &s.external {
        None => state.store().use_ssa(&s.jti).await?,
        Some((key, exp)) => state.store().record_assertion(key, *exp).await?,
    };
    if !fresh {
        return Err(unapproved("the software statement was already used"));
    }
    Ok(())
}
