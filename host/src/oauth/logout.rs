//! Logout (seed 003): ending a browser session and telling the relying parties that signed in
//! through it. RPs with a `backchannel_logout_uri` get a signed logout token POSTed to it
//! (OpenID Back-Channel Logout 1.0), concurrently, through the guarded outbound-HTTP module;
//! the others with a `frontchannel_logout_uri` are loaded in iframes of the logout page (OpenID
//! Front-Channel Logout 1.0). An RP with both is told through the back channel only, as Janssen
//! does.
//!
//! The endpoints: [`end_session`] (RP-Initiated Logout 1.0) and [`sessions`] (the session
//! status, active-session and session-revocation endpoints). The CLI and, later, the admin API
//! end sessions through [`end`] too, so every way a session ends notifies the same RPs.

pub mod end_session;
pub mod sessions;

use crate::clock::UnixTime;
use crate::crypto::secrets::random_token;
use crate::model::Client;
use crate::oauth::OAuthError;
use crate::oauth::authorize::subject_for;
use crate::server::AppState;
use crate::store::SessionRow;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The event a back-channel logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token's header (Back-Channel Logout §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// Counts of back-channel deliveries since start-up (a delivery is one POST to one RP).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl DeliveryStats {
    /// Deliveries the RP accepted (2xx).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Deliveries that failed: refused address, connection error, timeout, non-2xx answer.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// A relying party the logout page loads in an iframe: its client id and its
/// `frontchannel_logout_uri` with `iss` and `sid` when the client requires them (the record the
/// end-session hook receives).
pub use crate::plugins::bindings::end_session::FrontchannelRp;

/// What ending a session left to do in the browser.
#[derive(Debug)]
pub struct Ended {
    /// The session that ended.
    pub session: SessionRow,
    /// The (usable) clients that signed in through it.
    pub clients: Vec<Client>,
    /// The front-channel logout URIs to load.
    pub frontchannel: Vec<FrontchannelRp>,
}

/// Ends `session`: deletes it and revokes its tokens (its refresh tokens too, unless
/// `logout.remove_refresh_tokens_for_client_on_logout` is off), then delivers back-channel
/// logout tokens, waiting at most `logout.backchannel_wait_ms` for them. `also` is a client
/// known to be in the session (the ID token hint's audience) though it may not have redeemed a
/// code in it. `None` when the session had already ended.
pub async fn end(
    state: &AppState,
    session: &SessionRow,
    also: Option<&Client>,
) -> Result<Option<Ended>, OAuthError> {
    let now = state.now();
    let refresh = state
        .settings()
        .logout
        .remove_refresh_tokens_for_client_on_logout;
    let Some(mut ids) = state
        .store()
        .end_session(&session.session_id, refresh, now)
        .await?
    else {
        return Ok(None);
    };
    if let Some(c) = also
        && !ids.contains(&c.client_id)
    {
        ids.push(c.client_id.clone());
    }
    let mut clients = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(c) = state.store().find_client(id).await?
            && c.is_usable(now)
        {
            clients.push(std::sync::Arc::unwrap_or_clone(c));
        }
    }
    tracing::info!(sid = %session.session_id, rps = clients.len(), "session ended");
    let backchannel: Vec<&Client> = clients
        .iter()
        .filter(|c| c.metadata.backchannel_logout_uri.is_some())
        .collect();
    deliver(state, session, &backchannel, now).await;
    let frontchannel = clients
        .iter()
        .filter(|c| c.metadata.backchannel_logout_uri.is_none())
        .filter_map(|c| frontchannel_uri(state, c, &session.session_id))
        .collect();
    Ok(Some(Ended {
        session: session.clone(),
        clients,
        frontchannel,
    }))
}

/// The client's front-channel logout URI with `iss` and `sid` added when it set
/// `frontchannel_logout_session_required` (Front-Channel Logout §2).
fn frontchannel_uri(state: &AppState, client: &Client, sid: &str) -> Option<FrontchannelRp> {
    let raw = client.metadata.frontchannel_logout_uri.as_deref()?;
    let mut uri = url::Url::parse(raw).ok()?;
    if client.metadata.frontchannel_logout_session_required {
        uri.query_pairs_mut()
            .append_pair("iss", state.issuer())
            .append_pair("sid", sid);
    }
    Some(FrontchannelRp {
        client_id: client.client_id.clone(),
        uri: uri.into(),
    })
}

/// A logout token for `client` about `session` (Back-Channel Logout §2.4): signed like the
/// client's ID tokens, `typ` `logout+jwt`, with `sub` and `sid` and never a `nonce`.
pub fn logout_token(
    state: &AppState,
    client: &Client,
    session: &SessionRow,
    now: UnixTime,
) -> Result<String, OAuthError> {
    let keys = state.keys().load();
    let alg = crate::oauth::id_token::alg_for(state, client)?;
    let key = keys
        .signer(alg)
        .ok_or_else(|| OAuthError::Server(anyhow::anyhow!("no signing key for {}", alg.name())))?;
    let claims = json!({
        "iss": state.issuer(),
        "aud": client.client_id,
        "iat": now,
        "exp": now + state.settings().logout.logout_token_lifetime,
        "jti": random_token(16),
        "sub": subject_for(state, client, &session.user_id),
        "sid": session.session_id,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    crate::crypto::jwt::sign(key, LOGOUT_TOKEN_TYP, &claims)
        .map_err(|e| OAuthError::Server(e.into()))
}

/// POSTs a logout token to every client's `backchannel_logout_uri` at once; waits at most
/// `logout.backchannel_wait_ms`, after which the deliveries still running finish on their own
/// (each bounded by the outbound timeouts). Failures are logged and counted, never returned:
/// an RP that is down does not keep the user signed in.
async fn deliver(state: &AppState, session: &SessionRow, clients: &[&Client], now: UnixTime) {
    if clients.is_empty() {
        return;
    }
    let mut set = tokio::task::JoinSet::new();
    for client in clients {
        let Some(Ok(uri)) = client
            .metadata
            .backchannel_logout_uri
            .as_deref()
            .map(url::Url::parse)
        else {
            continue;
        };
        let token = match logout_token(state, client, session, now) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(client_id = %client.client_id, error = %e, "cannot sign a logout token");
                state.logout_stats().failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let state = state.clone();
        let client_id = client.client_id.clone();
        set.spawn(async move {
            let result = state
                .outbound()
                .post_form(&uri, &[("logout_token", &token)])
                .await;
            let stats = state.logout_stats();
            match result {
                Ok(()) => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%client_id, "back-channel logout delivered");
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%client_id, error = %e, "back-channel logout failed");
                }
            }
        });
    }
    let wait = Duration::from_millis(state.settings().logout.backchannel_wait_ms);
    let all = async { while set.join_next().await.is_some() {} };
    if tokio::time::timeout(wait, all).await.is_err() {
        tracing::warn!(
            still_running = set.len(),
            "back-channel logout deliveries continue in the background"
        );
        set.detach_all();
    }
}

/// The live sessions of `user_id` (every user's with `None`), newest first: each with its
/// auth time, ACR, methods, times and the clients that signed in through it; `current` marks
/// the browser's own.
pub async fn sessions_json(
    state: &AppState,
    user_id: Option<&str>,
    current: Option<&str>,
) -> Result<Vec<serde_json::Value>, OAuthError> {
    let mut out = Vec::new();
    for s in state.store().list_sessions(user_id, state.now()).await? {
        if !crate::session::is_live(state, &s) {
            continue;
        }
        let clients = state.store().session_clients(&s.session_id).await?;
        out.push(json!({
            "sid": s.session_id,
            "user_id": s.user_id,
            "auth_time": s.auth_time,
            "acr": s.acr,
            "amr": s.amr,
            "created_at": s.created_at,
            "last_used_at": s.last_used_at,
            "expires_at": s.expires_at,
            "clients": clients,
            "current": current == Some(s.session_id.as_str()),
        }));
    }
    Ok(out)
}

/// Ends every session of `user_id` as [`end`] does (tokens revoked, RPs told through the back
/// channel). Returns how many ended.
pub async fn end_user_sessions(state: &AppState, user_id: &str) -> Result<usize, OAuthError> {
    let sessions = state
        .store()
        .list_sessions(Some(user_id), state.now())
        .await?;
    let mut ended = 0;
    for s in &sessions {
        if end(state, s, None).await?.is_some() {
            ended += 1;
        }
    }
    Ok(ended)
}
