//! The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636, OpenID Connect Core §3.1.3):
//! single use, bound to the client and redirect URI, short-lived, PKCE-verified. A second use of
//! a code is refused and revokes every token of its grant (RFC 6749 §4.1.2).

use crate::clock::UnixTime;
use crate::crypto::secrets::{ct_eq, sha256_b64};
use crate::model::{Client, Grant, TokenRecord, User};
use crate::oauth::authorize::CodePayload;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::{
    MintedToken, TokenResponse, issues_refresh_token, mint_access_token, mint_refresh_token,
    revoke_on_replay,
};
use crate::oauth::{OAuthError, id_token, resource};
use crate::server::AppState;
use aws_lc_rs::digest;

/// Exchanges a code for tokens.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &OAuthForm,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = form.require("code")?;
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::UnauthorizedClient(
            "client is not registered for authorization_code".into(),
        ));
    }
    let code_hash = sha256_b64(code.as_bytes());
    let now = state.now();
    let invalid = |d: &'static str| OAuthError::InvalidGrant(d.into());
    let row = state
        .store()
        .find_code(&code_hash)
        .await?
        .ok_or_else(|| invalid("unknown authorization code"))?;
    if row.client_id != client.client_id {
        return Err(invalid("the code was issued to another client"));
    }
    if row.used_at.is_some() {
        revoke_on_replay(state, &row.grant_id, "authorization code").await?;
        return Err(invalid("the authorization code was already used"));
    }
    if now >= row.expires_at {
        return Err(invalid("the authorization code has expired"));
    }
    let payload: CodePayload = serde_json::from_str(&row.payload)
        .map_err(|e| OAuthError::Server(anyhow::anyhow!("corrupt code payload: {e}")))?;
    check_redirect_uri(&payload, form.get("redirect_uri"))?;
    check_pkce(&payload, form.get("code_verifier"))?;
    let user = state
        .store()
        .find_user(&payload.user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| invalid("the user is no longer active"))?;

    let grant = user_grant(
        &row.grant_id,
        client,
        &payload,
        &user,
        "authorization_code",
        now,
    );
    // RFC 8707 §2.2: the token request may narrow the authorized resources, never widen them.
    let resources = resource::narrow(&grant.resources, form.all("resource"))?;
    let audience = resource::audience(client, resources);
    let tokens =
        mint_user_tokens(state, client, &grant, &payload, &user, audience, jkt, now).await?;
    if !state
        .store()
        .redeem_code(&code_hash, now, &grant, &tokens.records())
        .await?
    {
        // Another request redeemed it between our read and our write: a replay.
        revoke_on_replay(state, &row.grant_id, "authorization code").await?;
        return Err(invalid("the authorization code was already used"));
    }
    tracing::info!(client_id = %client.client_id, grant_id = %grant.grant_id, "authorization code redeemed");
    Ok(tokens.response(now, grant.scope))
}

/// The grant a user's authorization (a code's payload) becomes when it is redeemed.
pub(crate) fn user_grant(
    grant_id: &str,
    client: &Client,
    payload: &CodePayload,
    user: &User,
    grant_type: &str,
    now: UnixTime,
) -> Grant {
    Grant {
        grant_id: grant_id.to_string(),
        client_id: client.client_id.clone(),
        subject: Some(payload.subject.clone()),
        grant_type: grant_type.into(),
        scope: payload.scope.clone(),
        created_at: now,
        user_id: Some(user.user_id.clone()),
        session_id: Some(payload.session_id.clone()),
        auth: Some(payload.auth.clone()),
        resources: payload.resources.clone(),
    }
}

/// The tokens of a redeemed user authorization, not stored yet.
pub(crate) struct UserTokens {
    access: MintedToken,
    refresh: Option<MintedToken>,
    id_token: Option<String>,
}

impl UserTokens {
    /// The records to store with the grant.
    pub(crate) fn records(&self) -> Vec<&TokenRecord> {
        std::iter::once(&self.access.record)
            .chain(self.refresh.as_ref().map(|r| &r.record))
            .collect()
    }

    /// The token response.
    pub(crate) fn response(self, now: UnixTime, scope: String) -> TokenResponse {
        let mut resp = TokenResponse::new(self.access, now, scope);
        resp.refresh_token = self.refresh.map(|r| r.token);
        resp.id_token = self.id_token;
        resp
    }
}

/// Mints the access token, the refresh token (when the client and scope allow one) and, for
/// OpenID requests, the ID token of a user authorization.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn mint_user_tokens(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    payload: &CodePayload,
    user: &User,
    audience: Vec<String>,
    jkt: Option<&str>,
    now: UnixTime,
) -> Result<UserTokens, OAuthError> {
    state.stats().user_active(now, &user.user_id);
    let access = mint_access_token(state, client, grant, &grant.scope, audience, jkt, now).await?;
    let refresh = issues_refresh_token(state, client, &grant.scope)
        .then(|| mint_refresh_token(state, client, grant, jkt, now));
    let id_token = if has_openid(&grant.scope) {
        let claims = id_token::released_claims(
            state,
            id_token::Release {
                client,
                user,
                sub: &payload.subject,
                scope: &grant.scope,
                auth: Some(&payload.auth),
                sid: Some(&payload.session_id),
                target: id_token::ClaimTarget::IdToken,
            },
        )
        .await?;
        Some(
            id_token::mint(
                state,
                id_token::IdTokenInput {
                    client,
                    subject: &payload.subject,
                    auth: &payload.auth,
                    sid: Some(&payload.session_id),
                    nonce: payload.nonce.as_deref(),
                    access_token: Some(&access.token),
                    claims,
                    grant,
                },
                now,
            )
            .await?,
        )
    } else {
        None
    };
    Ok(UserTokens {
        access,
        refresh,
        id_token,
    })
}

/// RFC 6749 §4.1.3: if the authorization request named a redirect URI, the token request must
/// repeat it exactly.
fn check_redirect_uri(p: &CodePayload, sent: Option<&str>) -> Result<(), OAuthError> {
    match sent {
        Some(uri) if uri == p.redirect_uri => Ok(()),
        None if !p.redirect_uri_sent => Ok(()),
        Some(_) => Err(OAuthError::InvalidGrant(
            "redirect_uri does not match the authorization request".into(),
        )),
        None => Err(OAuthError::invalid_request(
            "missing parameter redirect_uri",
        )),
    }
}

/// RFC 7636 §4.6, and the downgrade rule of RFC 9700 §2.1.1: a verifier without a challenge
/// is refused too.
fn check_pkce(p: &CodePayload, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (&p.code_challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::InvalidGrant(
            "code_verifier sent but the authorization request had no code_challenge".into(),
        )),
        (Some(_), None) => Err(OAuthError::InvalidGrant("missing code_verifier".into())),
        (Some(challenge), Some(v)) => {
            let well_formed = (43..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            let computed = crate::crypto::secrets::b64url(
                digest::digest(&digest::SHA256, v.as_bytes()).as_ref(),
            );
            if well_formed && ct_eq(computed.as_bytes(), challenge.as_bytes()) {
                Ok(())
            } else {
                Err(OAuthError::InvalidGrant(
                    "code_verifier does not match".into(),
                ))
            }
        }
    }
}

/// Whether a space-separated scope contains `openid`.
pub fn has_openid(scope: &str) -> bool {
    crate::model::scope::contains(scope, "openid")
}
