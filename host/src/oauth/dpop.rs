//! DPoP (RFC 9449): a client proves, with a JWT signed by a key it holds (`DPoP` header), that
//! it may use a token bound to that key. Checked at the token endpoint (the tokens issued are
//! bound: `token_type` `DPoP`, `cnf.jkt`) and wherever an access token is presented (the proof
//! must also carry the token's hash, `ath`). Proofs are checked as §4.3 lists: one header, a
//! `dpop+jwt` JWT signed with an allowed asymmetric algorithm by the public key in its `jwk`
//! header (no private members), `htm` and `htu` naming this request, `iat` within
//! `dpop.timeframe`, a `jti` never seen before (recorded in the database, so replicas share it),
//! and with `dpop.use_nonce` a nonce this server issued (§8).
//!
//! Nonces are stateless: the time window they were issued in and an HMAC of it under a key
//! derived from the master key, so every replica issues and accepts the same ones. A nonce is
//! accepted in its window and the next, `dpop.nonce_lifetime` each.

use crate::crypto::secrets::{b64url, b64url_decode, ct_eq, sha256_b64};
use crate::server::AppState;
use crate::store::StoreError;
use axum::http::{HeaderMap, Method};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// The request header carrying a proof.
pub const DPOP: &str = "dpop";
/// The response header carrying a fresh nonce (RFC 9449 §8).
pub const NONCE_HEADER: &str = "dpop-nonce";
/// Label of the nonce key derived from the master key.
const NONCE_KEY_LABEL: &[u8] = b"tessera dpop nonce v1";
/// JWK members that only a private key has (RFC 7517/7518).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A proof that passed every check: the thumbprint of its key (RFC 7638, SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// `base64url(SHA-256(canonical JWK))`, the `cnf.jkt` of bound tokens.
    pub jkt: String,
}

/// Why a proof was refused.
#[derive(Debug)]
pub enum DpopError {
    /// `invalid_dpop_proof`; the reason is logged, not sent.
    Invalid(&'static str),
    /// `use_dpop_nonce`: the proof lacks a valid nonce; this one is to be used.
    UseNonce(String),
    /// Recording the proof's `jti` failed.
    Store(StoreError),
}

impl From<StoreError> for DpopError {
    fn from(e: StoreError) -> Self {
        DpopError::Store(e)
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Whether DPoP is on (some algorithm accepted).
pub fn enabled(state: &AppState) -> bool {
    !state
        .settings()
        .dpop
        .signing_alg_values_supported
        .is_empty()
}

/// Checks the request's DPoP proof, if it has one, for a request `htm` `htu`; `access_token`
/// when the proof accompanies one (its hash must be the proof's `ath`). `None`: no proof (or
/// DPoP is off).
pub async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    htm: &Method,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Option<Proof>, DpopError> {
    if !enabled(state) {
        return Ok(None);
    }
    let mut values = headers.get_all(DPOP).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(DpopError::Invalid("more than one DPoP header"));
    }
    let jwt = value
        .to_str()
        .map_err(|_| DpopError::Invalid("malformed header"))?;
    let (jwk, claims) = decode(state, jwt)?;
    if claims.htm != htm.as_str() {
        return Err(DpopError::Invalid("htm is not this request's method"));
    }
    if !same_uri(&claims.htu, htu) {
        return Err(DpopError::Invalid("htu is not this request's URI"));
    }
    let now = state.now();
    let timeframe = state.settings().dpop.timeframe;
    if (claims.iat - now).abs() > timeframe {
        return Err(DpopError::Invalid("iat is outside the accepted timeframe"));
    }
    if let Some(token) = access_token
        && claims.ath.as_deref() != Some(sha256_b64(token.as_bytes()).as_str())
    {
        return Err(DpopError::Invalid("ath is not the access token's hash"));
    }
    if state.settings().dpop.use_nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonce_valid(state, n, now))
    {
        return Err(DpopError::UseNonce(nonce(state, now)));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(DpopError::Invalid("jti missing or too long"));
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| DpopError::Invalid("unusable key"))?;
    // One use per key and jti while the proof could still be accepted (§11.1).
    let replay_key = sha256_b64(format!("dpop\u{0}{jkt}\u{0}{}", claims.jti).as_bytes());
    if !state
        .store()
        .record_assertion(&replay_key, claims.iat + timeframe + 1)
        .await?
    {
        return Err(DpopError::Invalid("jti replayed"));
    }
    Ok(Some(Proof { jkt }))
}

/// The proof's key and claims, once its header, key and signature pass.
fn decode(state: &AppState, jwt: &str) -> Result<(Jwk, ProofClaims), DpopError> {
    let header =
        jsonwebtoken::decode_header(jwt).map_err(|_| DpopError::Invalid("malformed JWT"))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(DpopError::Invalid("typ is not dpop+jwt"));
    }
    let alg = format!("{:?}", header.alg);
    if !state
        .settings()
        .dpop
        .signing_alg_values_supported
        .contains(&alg)
    {
        return Err(DpopError::Invalid("algorithm not accepted"));
    }
    let jwk = header.jwk.ok_or(DpopError::Invalid("no jwk header"))?;
    // The parsed JWK drops private members, so look at the raw header.
    let raw: Value = jwt
        .split('.')
        .next()
        .and_then(b64url_decode)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(DpopError::Invalid("malformed JWT"))?;
    if PRIVATE_MEMBERS.iter().any(|m| raw["jwk"].get(*m).is_some()) {
        return Err(DpopError::Invalid("jwk holds a private or symmetric key"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| DpopError::Invalid("unusable key"))?;
    let mut v = Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<ProofClaims>(jwt, &key, &v)
        .map_err(|_| DpopError::Invalid("bad signature or claims"))?;
    Ok((jwk, data.claims))
}

/// RFC 9449 §4.3 item 9: `htu` and the request URI agree once normalised (RFC 3986 §6.2.2,
/// §6.2.3: scheme and host case, default port), ignoring query and fragment.
fn same_uri(htu: &str, ours: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(htu), url::Url::parse(ours)) else {
        return false;
    };
    for u in [&mut a, &mut b] {
        u.set_query(None);
        u.set_fragment(None);
    }
    a == b
}

/// Adds the current nonce to a response (`DPoP-Nonce`), so the client's next proof has it.
pub fn add_nonce(state: &AppState, resp: &mut axum::response::Response) {
    if let Ok(v) = axum::http::HeaderValue::from_str(&nonce(state, state.now())) {
        resp.headers_mut().insert(NONCE_HEADER, v);
    }
}

/// The nonce of the current window.
pub fn nonce(state: &AppState, now: i64) -> String {
    nonce_for(state, now.div_euclid(state.settings().dpop.nonce_lifetime))
}

fn nonce_for(state: &AppState, window: i64) -> String {
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &state.master_key().derive(NONCE_KEY_LABEL),
    );
    let tag = aws_lc_rs::hmac::sign(&key, &window.to_be_bytes());
    let mut raw = window.to_be_bytes().to_vec();
    raw.extend_from_slice(&tag.as_ref()[..16]);
    b64url(&raw)
}

/// A nonce of this window or the one before, issued by a replica sharing the master key.
fn nonce_valid(state: &AppState, nonce: &str, now: i64) -> bool {
    let Some(raw) = b64url_decode(nonce).filter(|r| r.len() == 24) else {
        return false;
    };
    let mut w = [0u8; 8];
    w.copy_from_slice(&raw[..8]);
    let window = i64::from_be_bytes(w);
    let current = now.div_euclid(state.settings().dpop.nonce_lifetime);
    (window == current || window == current - 1)
        && ct_eq(nonce_for(state, window).as_bytes(), nonce.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::same_uri;

    #[test]
    fn htu_comparison_normalises_and_ignores_query() {
        assert!(same_uri(
            "https://AS.example/token",
            "https://as.example/token"
        ));
        assert!(same_uri(
            "https://as.example:443/token?x=1#f",
            "https://as.example/token"
        ));
        assert!(!same_uri(
            "https://as.example/token/",
            "https://as.example/token"
        ));
        assert!(!same_uri(
            "http://as.example/token",
            "https://as.example/token"
        ));
        assert!(!same_uri(
            "https://as.example/userinfo",
            "https://as.example/token"
        ));
        assert!(!same_uri("not a url", "https://as.example/token"));
    }
}
