//! The `refresh_token` grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): every use returns
//! a new refresh token; presenting one that was already rotated revokes the whole grant; the
//! scope can only narrow. Rotation is one conditional UPDATE, so of two concurrent uses exactly
//! one succeeds.

use crate::crypto::secrets::sha256_b64;
use crate::model::{Client, TokenKind};
use crate::oauth::authorization_code::has_openid;
use crate::oauth::form::OAuthForm;
use crate::oauth::token::{TokenResponse, mint_access_token, mint_refresh_token, revoke_on_replay};
use crate::oauth::{OAuthError, id_token, resource, scope};
use crate::server::AppState;

/// Exchanges a refresh token for new tokens.
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &OAuthForm,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let presented = form.require("refresh_token")?;
    if !client.allows_grant("refresh_token") {
        return Err(OAuthError::UnauthorizedClient(
            "client is not registered for refresh_token".into(),
        ));
    }
    let invalid = |d: &'static str| OAuthError::InvalidGrant(d.into());
    let now = state.now();
    let hash = sha256_b64(presented.as_bytes());
    let (record, grant) = state
        .store()
        .find_token_in_grant(&hash)
        .await?
        .filter(|(t, _)| t.kind == TokenKind::RefreshToken)
        .ok_or_else(|| invalid("unknown refresh token"))?;
    if record.client_id != client.client_id {
        return Err(invalid("the refresh token was issued to another client"));
    }
    if record.revoked_at.is_some() || now >= record.expires_at {
        return Err(invalid("the refresh token is no longer valid"));
    }
    if record.consumed_at.is_some() {
        revoke_on_replay(state, &record.grant_id, "rotated refresh token").await?;
        return Err(invalid("the refresh token was already used"));
    }
    // RFC 9449 §5: a bound refresh token needs a proof by the same key.
    if record.jkt.is_some() && record.jkt.as_deref() != jkt {
        return Err(invalid("the refresh token is bound to another DPoP key"));
    }
    let narrowed = narrowed_scope(&grant.scope, form.get("scope"))?;
    let user = match &grant.user_id {
        Some(id) => Some(
            state
                .store()
                .find_user(id)
                .await?
                .filter(|u| u.active)
                .ok_or_else(|| invalid("the user is no longer active"))?,
        ),
        None => None,
    };
    if let Some(u) = &user {
        state.stats().user_active(now, &u.user_id);
    }
    // RFC 8707 §2.2: a refresh request may narrow the grant's resources, never add one.
    let resources = resource::narrow(&grant.resources, form.all("resource"))?;
    let audience = resource::audience(client, resources);
    let access = mint_access_token(state, client, &grant, &narrowed, audience, jkt, now).await?;
    let refresh = mint_refresh_token(state, client, &grant, jkt, now);
    let id_token = match (&user, &grant.auth, &grant.subject) {
        (Some(user), Some(auth), Some(subject)) if has_openid(&narrowed) => {
            let claims = id_token::released_claims(
                state,
                id_token::Release {
                    client,
                    user,
                    sub: subject,
                    scope: &narrowed,
                    auth: Some(auth),
                    sid: grant.session_id.as_deref(),
                    target: id_token::ClaimTarget::IdToken,
                },
            )
            .await?;
            Some(
                id_token::mint(
                    state,
                    id_token::IdTokenInput {
                        client,
                        subject,
                        auth,
                        sid: grant.session_id.as_deref(),
                        nonce: None,
                        access_token: Some(&access.token),
                        claims,
                        grant: &grant,
                    },
                    now,
                )
                .await?,
            )
        }
        _ => None,
    };
    if !state
        .store()
        .rotate_refresh_token(&hash, now, &[&access.record, &refresh.record])
        .await?
    {
        // A concurrent request rotated it first: this is a second use.
        revoke_on_replay(state, &record.grant_id, "rotated refresh token").await?;
        return Err(invalid("the refresh token was already used"));
    }
    let mut resp = TokenResponse::new(access, now, narrowed);
    resp.refresh_token = Some(refresh.token);
    resp.id_token = id_token;
    Ok(resp)
}

/// RFC 6749 §6: the requested scope must be within the original grant; absent means all of it.
fn narrowed_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(req) = requested else {
        return Ok(granted.to_string());
    };
    let req = scope::parse(req)?;
    if let Some(bad) = req.iter().find(|s| !granted.split(' ').any(|g| g == **s)) {
        return Err(OAuthError::InvalidScope(
            format!("scope {bad:?} was not granted originally").into(),
        ));
    }
    Ok(req.join(" "))
}
