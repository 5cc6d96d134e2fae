//! Compact JWS creation with pre-parsed keys (no per-call key parsing).

/// Asymmetric JWS algorithms accepted on client assertions (`private_key_jwt`).
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// HMAC algorithms accepted on client assertions (`client_secret_jwt`).
pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

use crate::crypto::keys::SigningKey;
use crate::crypto::secrets::b64url;
use serde::Serialize;

/// Signing failed (the key or the claims could not be used).
#[derive(Debug, thiserror::Error)]
#[error("JWT signing failed")]
pub struct SignError;

/// Signs `claims` as a compact JWS with `key`, setting `typ` in the header.
pub fn sign<C: Serialize>(key: &SigningKey, typ: &str, claims: &C) -> Result<String, SignError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'a str,
        typ: &'a str,
        kid: &'a str,
    }
    let header = serde_json::to_vec(&Header {
        alg: key.alg.name(),
        typ,
        kid: &key.kid,
    })
    .map_err(|_| SignError)?;
    let payload = serde_json::to_vec(claims).map_err(|_| SignError)?;
    let mut out = String::with_capacity(64 + header.len() * 4 / 3 + payload.len() * 4 / 3 + 360);
    out.push_str(&b64url(&header));
    out.push('.');
    out.push_str(&b64url(&payload));
    let sig = key.sign(out.as_bytes()).map_err(|_| SignError)?;
    out.push('.');
    out.push_str(&b64url(&sig));
    Ok(out)
}

/// The claims of a compact JWS, read without verifying it: only to decide which key verifies it.
pub fn unverified_claims(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = crate::crypto::secrets::b64url_decode(payload)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::{SigningAlg, generate};
    use jsonwebtoken::{DecodingKey, Validation, decode, jwk::Jwk};

    #[test]
    fn every_algorithm_signs_tokens_that_verify_against_its_jwk() {
        for alg in SigningAlg::ALL {
            let g = generate(alg).expect("generate");
            let key = SigningKey::from_pkcs8(g.kid.clone(), alg, &g.pkcs8).expect("parse");
            let tok = sign(
                &key,
                "at+jwt",
                &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}),
            )
            .expect("sign");
            let jwk: Jwk = serde_json::from_value(g.public_jwk.clone()).expect("jwk");
            let dk = DecodingKey::from_jwk(&jwk).expect("decoding key");
            let ja: jsonwebtoken::Algorithm = alg.name().parse().expect("alg");
            let mut v = Validation::new(ja);
            v.required_spec_claims.clear();
            v.validate_aud = false;
            let data = decode::<serde_json::Value>(&tok, &dk, &v).expect("verifies");
            assert_eq!(data.header.kid.as_deref(), Some(g.kid.as_str()));
            assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
            // A token signed by another key of the same algorithm must not verify.
            let other = generate(alg).expect("generate");
            let ok = SigningKey::from_pkcs8(other.kid, alg, &other.pkcs8).expect("parse");
            let forged = sign(&ok, "at+jwt", &serde_json::json!({"sub": "x"})).expect("sign");
            assert!(decode::<serde_json::Value>(&forged, &dk, &v).is_err());
        }
    }
}
