//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OpenID Connect Core §9, RFC 7523): `client_secret_basic`, `client_secret_post`,
//! `client_secret_jwt`, `private_key_jwt` (JWKS inline or by URI, `jti` replay refused, `aud`
//! checked) and `none` for public clients.

use crate::crypto::secrets::{ct_eq, sha256_b64};
use crate::model::Client;
use crate::oauth::OAuthError;
use crate::oauth::form::OAuthForm;
use crate::server::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// The only client assertion type (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub use crate::crypto::jwt::{ASYMMETRIC_ALGS, HMAC_ALGS};

/// Clock skew tolerated on assertion `exp`/`nbf`/`iat`, in seconds.
const LEEWAY: u64 = 30;

/// What the request presented.
enum Presented {
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
    },
    Assertion {
        client_id: String,
        assertion: String,
    },
    None {
        client_id: String,
    },
}

/// Authenticates the client of a request. `endpoint_url` is the URL being called, accepted as an
/// assertion audience beside the issuer and the token endpoint.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
    endpoint_url: &str,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, form)?;
    let basic = matches!(presented, Presented::Basic { .. });
    let fail = |msg: &'static str| OAuthError::invalid_client(msg, basic);
    let client_id = match &presented {
        Presented::Basic { client_id, .. }
        | Presented::Post { client_id, .. }
        | Presented::Assertion { client_id, .. }
        | Presented::None { client_id } => client_id.as_str(),
    };
    let now = state.now();
    let client = match state.store().find_client(client_id).await? {
        Some(c) if c.is_usable(now) => c,
        _ => return Err(fail("client authentication failed")),
    };
    let method = client.metadata.token_endpoint_auth_method.as_str();
    match (&presented, method) {
        // Either form of the same secret, whichever of the two the client registered: many
        // libraries (openid-client among them) pick one without asking, and both put the same
        // secret on the same TLS connection. The JWT methods and `none` stay strict.
        (
            Presented::Basic { secret, .. } | Presented::Post { secret, .. },
            "client_secret_basic" | "client_secret_post",
        ) => {
            let ok = client
                .secret_hash
                .as_deref()
                .is_some_and(|h| ct_eq(h.as_bytes(), sha256_b64(secret.as_bytes()).as_bytes()));
            if !ok {
                return Err(fail("client authentication failed"));
            }
        }
        (Presented::Assertion { assertion, .. }, "client_secret_jwt" | "private_key_jwt") => {
            verify_assertion(state, &client, assertion, endpoint_url).await?;
        }
        (Presented::None { .. }, "none") => {}
        _ => {
            return Err(fail(
                "client authentication method does not match the client's registration",
            ));
        }
    }
    Ok(client)
}

fn presented(headers: &HeaderMap, form: &OAuthForm) -> Result<Presented, OAuthError> {
    let auth = headers.get(header::AUTHORIZATION);
    let form_id = form.get("client_id");
    let secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let count = auth.is_some() as u8 + secret.is_some() as u8 + assertion.is_some() as u8;
    if count > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method used",
        ));
    }
    if let Some(auth) = auth {
        let (id, secret) = parse_basic(auth.as_bytes()).ok_or_else(|| {
            OAuthError::invalid_client("malformed Basic authorization header", true)
        })?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_client(
                "client_id does not match the authorization header",
                true,
            ));
        }
        return Ok(Presented::Basic {
            client_id: id,
            secret,
        });
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let sub = unverified_subject(assertion)
            .ok_or_else(|| OAuthError::invalid_client("malformed client assertion", false))?;
        if form_id.is_some_and(|f| f != sub) {
            return Err(OAuthError::invalid_client(
                "client_id does not match the assertion",
                false,
            ));
        }
        return Ok(Presented::Assertion {
            client_id: sub,
            assertion: assertion.to_string(),
        });
    }
    if form.get("client_assertion_type").is_some() {
        return Err(OAuthError::invalid_request(
            "client_assertion_type without client_assertion",
        ));
    }
    let Some(client_id) = form_id else {
        return Err(OAuthError::invalid_client(
            "client authentication required",
            false,
        ));
    };
    Ok(match secret {
        Some(s) => Presented::Post {
            client_id: client_id.to_string(),
            secret: s.to_string(),
        },
        None => Presented::None {
            client_id: client_id.to_string(),
        },
    })
}

/// Parses `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let dec = |s: &str| super::form::urldecode(s.as_bytes());
    let (id, secret) = (dec(id)?, dec(secret)?);
    (!id.is_empty()).then_some((id, secret))
}

/// The `sub` of a JWT, read without verification (only to find the client whose key verifies it).
pub fn unverified_subject(jwt: &str) -> Option<String> {
    crate::crypto::jwt::unverified_claims(jwt)?
        .get("sub")?
        .as_str()
        .map(str::to_string)
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    jti: String,
    exp: i64,
    aud: Audience,
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// draft-ietf-oauth-rfc7523bis: every value must name this server (its issuer or the
    /// endpoint called); an array may not smuggle in a foreign audience beside ours, so an
    /// assertion minted for another server cannot be replayed here.
    fn only(&self, acceptable: &[String]) -> bool {
        let values: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(v) => v,
        };
        !values.is_empty() && values.iter().all(|a| acceptable.contains(a))
    }
}

async fn verify_assertion(
    state: &AppState,
    client: &Client,
    assertion: &str,
    endpoint_url: &str,
) -> Result<(), OAuthError> {
    let bad = |why: &str| {
        tracing::debug!(client_id = %client.client_id, why, "client assertion refused");
        OAuthError::invalid_client("client assertion is invalid", false)
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed header"))?;
    let alg_name = format!("{:?}", header.alg);
    let allowed = if client.metadata.token_endpoint_auth_method == "client_secret_jwt" {
        HMAC_ALGS
    } else {
        ASYMMETRIC_ALGS
    };
    if !allowed.contains(&alg_name.as_str()) {
        return Err(bad("algorithm not allowed for the auth method"));
    }
    if client
        .metadata
        .token_endpoint_auth_signing_alg
        .as_deref()
        .is_some_and(|a| a != alg_name)
    {
        return Err(bad("algorithm differs from the registered one"));
    }
    let key = if client.metadata.token_endpoint_auth_method == "client_secret_jwt" {
        let sealed = client
            .secret_sealed
            .as_deref()
            .ok_or_else(|| bad("client has no recoverable secret"))?;
        let secret = state.master_key().open(sealed).ok_or_else(|| {
            OAuthError::Server(anyhow::anyhow!(
                "client secret of {} cannot be unsealed",
                client.client_id
            ))
        })?;
        DecodingKey::from_secret(&secret)
    } else {
        let jwk = find_client_key(state, client, header.kid.as_deref(), header.alg)
            .await?
            .ok_or_else(|| bad("no matching key"))?;
        DecodingKey::from_jwk(&jwk).map_err(|_| bad("unusable key"))?
    };
    let s = state.settings();
    let issuer = s.issuer();
    let audiences = [
        issuer.to_string(),
        format!("{issuer}/"),
        state.urls().token.clone(),
        endpoint_url.to_string(),
    ];
    let mut v = Validation::new(header.alg);
    v.leeway = LEEWAY;
    v.validate_nbf = true;
    // jsonwebtoken accepts an array if any one value matches; `Audience::only` checks them all.
    v.validate_aud = false;
    v.set_issuer(&[client.client_id.as_str()]);
    v.sub = Some(client.client_id.clone());
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|e| bad(&e.to_string()))?;
    if !data.claims.aud.only(&audiences) {
        return Err(bad("aud names another party"));
    }
    let now = state.now();
    if data.claims.exp - now > s.client_auth.assertion_max_lifetime {
        return Err(bad("exp too far in the future"));
    }
    let replay_key = sha256_b64(format!("{}\u{0}{}", client.client_id, data.claims.jti).as_bytes());
    if !state
        .store()
        .record_assertion(&replay_key, data.claims.exp + LEEWAY as i64)
        .await?
    {
        return Err(bad("jti replayed"));
    }
    Ok(())
}

/// The client's public key named by `kid` (or the only one) that fits `alg`: from its `jwks`,
/// or from its `jwks_uri` (cached; fetched again once on a miss).
pub(crate) async fn find_client_key(
    state: &AppState,
    client: &Client,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<Option<Jwk>, OAuthError> {
    if let Some(jwks) = &client.metadata.jwks {
        let set: JwkSet = serde_json::from_value(jwks.clone())
            .map_err(|_| OAuthError::invalid_client("client jwks is unusable", false))?;
        return Ok(select_key(&set, kid, alg));
    }
    let Some(uri) = client.metadata.jwks_uri.as_deref() else {
        return Ok(None);
    };
    let set = state.jwks_cache().get(state, uri, false).await?;
    if let Some(k) = select_key(&set, kid, alg) {
        return Ok(Some(k));
    }
    // The client may have rotated: fetch once more, bypassing the cache (rate-limited inside).
    let set = state.jwks_cache().get(state, uri, true).await?;
    Ok(select_key(&set, kid, alg))
}

fn select_key(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |k: &&Jwk| {
        let use_ok = k
            .common
            .public_key_use
            .as_ref()
            .is_none_or(|u| matches!(u, jsonwebtoken::jwk::PublicKeyUse::Signature));
        let alg_ok = k
            .common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"));
        let kty_ok = match &k.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => {
                matches!(alg, Algorithm::ES256 | Algorithm::ES384)
            }
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => {
                matches!(alg, Algorithm::EdDSA)
            }
            _ => false,
        };
        use_ok && alg_ok && kty_ok
    };
    match kid {
        Some(kid) => set
            .keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut it = set.keys.iter().filter(fits);
            // Without a kid the choice must be unambiguous.
            match (it.next(), it.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

/// Cache of clients' `jwks_uri` documents.
#[derive(Debug, Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (i64, Arc<JwkSet>)>>,
}

/// Shortest interval between two forced re-fetches of one `jwks_uri`, in seconds.
const MIN_REFETCH_SECS: i64 = 10;

impl JwksCache {
    /// The JWK Set at `uri`: cached for `client_auth.jwks_cache_seconds`; `force` fetches again
    /// (at most every 10 s).
    pub(crate) async fn get(
        &self,
        state: &AppState,
        uri: &str,
        force: bool,
    ) -> Result<Arc<JwkSet>, OAuthError> {
        let now = state.now();
        let ttl = state.settings().client_auth.jwks_cache_seconds;
        {
            let entries = self.entries.lock().await;
            if let Some((at, set)) = entries.get(uri) {
                let age = now - at;
                if (!force && age < ttl) || (force && age < MIN_REFETCH_SECS) {
                    return Ok(set.clone());
                }
            }
        }
        let set = Arc::new(fetch_jwks(state, uri).await?);
        self.entries
            .lock()
            .await
            .insert(uri.to_string(), (now, set.clone()));
        Ok(set)
    }
}

async fn fetch_jwks(state: &AppState, uri: &str) -> Result<JwkSet, OAuthError> {
    let fail = |why: String| {
        tracing::warn!(jwks_uri = uri, why, "fetching client jwks_uri failed");
        OAuthError::invalid_client("client keys could not be retrieved", false)
    };
    let url = url::Url::parse(uri).map_err(|e| fail(e.to_string()))?;
    let http_ok = url.scheme() == "http" && state.settings().client_auth.allow_http_jwks_uri;
    if url.scheme() != "https" && !http_ok {
        return Err(fail("jwks_uri must use https".into()));
    }
    let body = state
        .outbound()
        .get(&url, state.now())
        .await
        .map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(
            parse_basic(enc("a:b").as_bytes()),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(
            parse_basic(enc("a%3Ab:c%20d").as_bytes()),
            Some(("a:b".into(), "c d".into()))
        );
        assert_eq!(
            parse_basic(enc("a:").as_bytes()),
            Some(("a".into(), String::new()))
        );
        assert_eq!(parse_basic(enc(":b").as_bytes()), None);
        assert_eq!(parse_basic(enc("nocolon").as_bytes()), None);
        assert_eq!(parse_basic(b"Basic !!!"), None);
        assert_eq!(parse_basic(b"Bearer abc"), None);
        assert_eq!(parse_basic(b"Basic"), None);
        assert_eq!(parse_basic(b"Basic \xff\xfe"), None);
    }
}
