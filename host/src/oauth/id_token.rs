//! ID tokens (OpenID Connect Core §2, §3.1.3.6, §12.2) and the claims released about a user
//! by granted scopes and the `claims` request parameter (§5.4, §5.5).

use crate::clock::UnixTime;
use crate::crypto::SigningAlg;
use crate::crypto::secrets::b64url;
use crate::model::{AuthContext, Client, Grant, User};
use crate::oauth::OAuthError;
use crate::plugins::TokenDraft;
use crate::plugins::bindings::types::Authentication as PluginAuthentication;
use crate::plugins::bindings::types::TokenKind as PluginTokenKind;
use crate::plugins::hooks::ScopeClaims;
use crate::server::AppState;
use crate::store::ScopeRow;
use serde_json::{Map, Value, json};

/// What an ID token says about one authentication.
pub struct IdTokenInput<'a> {
    /// The client (audience).
    pub client: &'a Client,
    /// The `sub` this client sees.
    pub subject: &'a str,
    /// How the user authenticated.
    pub auth: &'a AuthContext,
    /// The session id (`sid`), if the grant came from a session.
    pub sid: Option<&'a str>,
    /// The authorization request's nonce (never on refresh, §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued beside it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// User claims to include.
    pub claims: Map<String, Value>,
    /// The grant the token belongs to (what update-token plugins see).
    pub grant: &'a Grant,
}

/// The JWS algorithm of this client's ID tokens.
pub fn alg_for(state: &AppState, client: &Client) -> Result<SigningAlg, OAuthError> {
    let settings = state.settings();
    let name = client
        .metadata
        .id_token_signed_response_alg
        .as_deref()
        .unwrap_or(&settings.tokens.id_token_signing_alg);
    SigningAlg::parse(name)
        .ok_or_else(|| OAuthError::Server(anyhow::anyhow!("unsupported id_token alg {name}")))
}

/// Signs an ID token, after the update-token plugins bound to the client had their say.
pub async fn mint(
    state: &AppState,
    input: IdTokenInput<'_>,
    now: UnixTime,
) -> Result<String, OAuthError> {
    let alg = alg_for(state, input.client)?;
    let keys = state.keys().load();
    let key = keys
        .signer(alg)
        .ok_or_else(|| OAuthError::Server(anyhow::anyhow!("no signing key for {}", alg.name())))?;
    let mut c = input.claims;
    let standard = json!({
        "iss": state.issuer(),
        "sub": input.subject,
        "aud": input.client.client_id,
        "exp": now + state.settings().tokens.id_token_lifetime,
        "iat": now,
        "acr": input.auth.acr,
        "amr": input.auth.amr,
    });
    if let Value::Object(m) = standard {
        c.extend(m);
    }
    if input.auth.include_auth_time {
        c.insert("auth_time".into(), json!(input.auth.auth_time));
    }
    if let Some(n) = input.nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(sid) = input.sid {
        c.insert("sid".into(), json!(sid));
    }
    if let Some(at) = input.access_token {
        c.insert("at_hash".into(), json!(half_hash(alg, at)));
    }
    let (mut c, lifetime) = state
        .hooks()
        .update_token(TokenDraft {
            kind: PluginTokenKind::IdToken,
            client: input.client,
            grant: input.grant,
            claims: c,
            lifetime: state.settings().tokens.id_token_lifetime,
        })
        .await?;
    c.insert("exp".into(), json!(now + lifetime));
    crate::crypto::jwt::sign(key, "JWT", &Value::Object(c))
        .map_err(|e| OAuthError::Server(e.into()))
}

/// `at_hash` / `c_hash`: the left half of the hash of the value, with the hash of the JWS
/// algorithm (SHA-256 for RS256/ES256; SHA-512 for EdDSA with Ed25519).
pub fn half_hash(alg: SigningAlg, value: &str) -> String {
    use aws_lc_rs::digest;
    let d = match alg {
        SigningAlg::EdDsa => digest::digest(&digest::SHA512, value.as_bytes()),
        _ => digest::digest(&digest::SHA256, value.as_bytes()),
    };
    let bytes = d.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

/// Where released claims go: an ID token or a userinfo response.
pub use crate::plugins::bindings::dynamic_scope::Target as ClaimTarget;

/// What claims are released about, and to whom.
pub struct Release<'a> {
    /// The client receiving them.
    pub client: &'a Client,
    /// The user they are about.
    pub user: &'a User,
    /// The `sub` this client sees.
    pub sub: &'a str,
    /// The granted scope (space-separated).
    pub scope: &'a str,
    /// How the user authenticated (carries the `claims` request parameter).
    pub auth: Option<&'a AuthContext>,
    /// The browser session the grant came from (`sid`).
    pub sid: Option<&'a str>,
    /// ID token or userinfo.
    pub target: ClaimTarget,
}

/// The user claims released (`sub` and the other claims the host sets are not included):
/// 1. the user attributes linked to each granted scope (OpenID and dynamic scopes; for an ID token
///    only when the client asks for claims in the ID token, "Include claims in id_token");
/// 2. those the `claims` request parameter names for this target (OpenID Connect Core §5.5);
/// 3. for each granted dynamic scope, in the scope's order, the claims its dynamic-scope plugins
///    add (in the facade's order). The host's claims win: a plugin cannot replace a claim already
///    released, and the facade refuses the claims only the host sets.
pub async fn released_claims(
    state: &AppState,
    r: Release<'_>,
) -> Result<Map<String, Value>, OAuthError> {
    let (requested, scope_claims) = match r.target {
        ClaimTarget::IdToken => ("id_token", r.client.metadata.include_claims_in_id_token),
        ClaimTarget::Userinfo => ("userinfo", true),
    };
    let requested = r
        .auth
        .and_then(|a| a.claims_request.as_ref())
        .and_then(|c| c.get(requested));
    if !scope_claims {
        return Ok(user_claims(r.user, &[], "", requested));
    }
    let scopes = state.store().list_scopes().await?;
    let mut out = user_claims(r.user, &scopes, r.scope, requested);
    let granted: Vec<String> = r.scope.split(' ').map(str::to_string).collect();
    let dynamic = granted.iter().filter(|g| {
        scopes
            .iter()
            .any(|s| s.scope_id == **g && s.scope_type == crate::model::ScopeType::Dynamic.as_str())
    });
    let about = ScopeClaims {
        sub: r.sub,
        user: &r.user.claims,
        client: r.client,
        granted_scopes: &granted,
        target: r.target,
        authentication: r.auth.map(|a| PluginAuthentication {
            auth_time: a.auth_time,
            acr: a.acr.clone(),
            amr: a.amr.clone(),
            sid: r.sid.map(str::to_string),
        }),
    };
    for scope in dynamic {
        let added = state.hooks().dynamic_scope(scope, &about).await?;
        for (k, v) in added {
            out.entry(k).or_insert(v);
        }
    }
    Ok(out)
}

/// The claims of `user` released by `scope` and by the `claims` request member `requested`
/// (`claims.userinfo` or `claims.id_token`). `sub` is not included.
fn user_claims(
    user: &User,
    scopes: &[ScopeRow],
    scope: &str,
    requested: Option<&Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut release = |name: &str| {
        if let Some(v) = user.claims.get(name) {
            out.insert(name.to_string(), v.clone());
        }
    };
    for granted in scope.split(' ') {
        if let Some(row) = scopes.iter().find(|r| r.scope_id == granted) {
            for name in &row.claims {
                release(name);
            }
        }
    }
    if let Some(Value::Object(req)) = requested {
        for name in req.keys() {
            release(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_openid_example() {
        // OpenID Connect Core, Appendix A.3-style: left half of SHA-256, base64url.
        let h = half_hash(
            SigningAlg::Rs256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
        );
        assert_eq!(h, "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(half_hash(SigningAlg::EdDsa, "x").len(), 43);
    }
}
