//! The device authorization grant (RFC 8628, flag DEVICE_AUTHZ).
//!
//! 1. The device asks `POST /device_authorization` (client authentication as at `/token`) and
//!    gets a device code, a user code, `verification_uri` and `verification_uri_complete`.
//! 2. The user opens `/device` (the code filled in from `verification_uri_complete`, or typed),
//!    confirms, and goes through the ordinary login and consent pages; consent is always asked
//!    (RFC 8628 §5.4: the user must see what the device gets). The outcome decides the request.
//! 3. The device polls `/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`:
//!    `authorization_pending`, `slow_down` (polled sooner than `interval`; the interval grows by
//!    5 s), `access_denied`, `expired_token`, or the tokens (a refresh token rotated as any other).
//!
//! User codes are 8 characters of RFC 8628 §6.1's 20 consonants (34.6 bits), shown as
//! `XXXX-XXXX` and read back case-insensitively with any separators. A client address that
//! enters `device.user_code_failures` wrong codes is refused for the rest of the window.

use crate::clock::UnixTime;
use crate::config::FeatureFlag;
use crate::crypto::secrets::{fill_random, random_token, sha256_b64};
use crate::http::PeerIp;
use crate::http::pages;
use crate::model::Client;
use crate::oauth::authorization_code::{mint_user_tokens, user_grant};
use crate::oauth::authorize::{self, AuthRequest, CodePayload, bad_request_page};
use crate::oauth::form::OAuthForm;
use crate::oauth::redirect::{ResponseMode, Target};
use crate::oauth::token::{TokenResponse, no_store};
use crate::oauth::{OAuthError, client_auth, resource, scope};
use crate::server::AppState;
use crate::store::{DeviceRow, SessionRow, StoreError};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The grant type a device polls with.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §6.1: no vowels (no words), no look-alike digits.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
/// How much `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;
/// Client addresses remembered by the guard; past it the oldest windows are forgotten.
const MAX_TRACKED: usize = 10_000;

/// `POST /device_authorization` (RFC 8628 §3.1, §3.2).
pub async fn authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, OAuthError> {
    state.require(FeatureFlag::DeviceAuthz)?;
    let urls = state.urls();
    let client =
        client_auth::authenticate(&state, &headers, &form, &urls.device_authorization).await?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::UnauthorizedClient(
            "client is not registered for the device_code grant".into(),
        ));
    }
    let now = state.now();
    let scope = scope::requested(state.store(), &client, form.get("scope"), now)
        .await?
        .join(" ");
    let s = &state.settings().device;
    let device_code = random_token(32);
    for _ in 0..3 {
        let user_code = random_user_code();
        let row = DeviceRow {
            device_code_hash: sha256_b64(device_code.as_bytes()),
            user_code: user_code.clone(),
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            status: "pending".into(),
            payload: None,
            grant_id: crate::crypto::secrets::ordered_id(),
            poll_interval: s.interval,
            last_polled_at: None,
            expires_at: now + s.lifetime,
        };
        match state.store().insert_device_code(&row).await {
            Ok(()) => {
                let shown = display(&user_code);
                return Ok(no_store(Json(json!({
                    "device_code": device_code,
                    "user_code": shown,
                    "verification_uri": urls.device_verification,
                    "verification_uri_complete": format!("{}?user_code={shown}", urls.device_verification),
                    "expires_in": s.lifetime,
                    "interval": s.interval,
                }))));
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(OAuthError::Server(anyhow::anyhow!(
        "no free user code after three draws"
    )))
}

/// The verification page's query.
#[derive(Debug, Deserialize)]
pub struct VerificationQuery {
    /// The code from `verification_uri_complete`.
    pub user_code: Option<String>,
}

/// `GET /device`: the page where the user enters or confirms the code.
pub async fn verification_page(
    State(state): State<AppState>,
    Query(q): Query<VerificationQuery>,
) -> Response {
    if let Err(e) = state.require(FeatureFlag::DeviceAuthz) {
        return e.into_response();
    }
    code_page(StatusCode::OK, q.user_code.as_deref().unwrap_or(""), None)
}

/// `POST /device`: the user code entered; on to login and consent for the device's client.
pub async fn verification_submit(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    if let Err(e) = state.require(FeatureFlag::DeviceAuthz) {
        return e.into_response();
    }
    let now = state.now();
    let entered = form.get("user_code").unwrap_or("");
    if !state.device_guard().allowed(peer, now) {
        return pages::error_page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many wrong codes were entered from your network. Try again later.",
        );
    }
    let row = match state
        .store()
        .find_pending_user_code(&normalize(entered), now)
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => {
            state.device_guard().failed(peer, now);
            return code_page(
                StatusCode::BAD_REQUEST,
                entered,
                Some("That code is not valid, or it has expired. Check the code on your device."),
            );
        }
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let client = match state.store().find_client(&row.client_id).await {
        Ok(Some(c)) if c.is_usable(now) => c,
        Ok(_) => return bad_request_page("The device's application is no longer registered."),
        Err(e) => return OAuthError::from(e).into_response(),
    };
    let request = match device_request(&state, &client, &row, peer) {
        Ok(r) => r,
        Err(msg) => return bad_request_page(msg),
    };
    let session = match crate::session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return OAuthError::from(e).into_response(),
    };
    authorize::proceed(&state, &headers, &client, request, None, session).await
}

/// The authorization request a device's user code stands for: its client and scopes, consent
/// always asked, nowhere to redirect.
fn device_request(
    state: &AppState,
    client: &Client,
    row: &DeviceRow,
    peer: Option<IpAddr>,
) -> Result<AuthRequest, &'static str> {
    let acr = authorize::choose_acr(state, client, None, None)
        .map_err(|_| "No sign-in method is allowed for the device's application.")?;
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        target: Target {
            redirect_uri: String::new(),
            mode: ResponseMode::Query,
        },
        redirect_uri_sent: false,
        state: None,
        scope: row
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        nonce: None,
        code_challenge: None,
        prompt: vec!["consent".into()],
        max_age: None,
        acr,
        login_hint: None,
        claims: None,
        resources: Vec::new(),
        login_sid: None,
        consented: false,
        client_ip: peer.map(|ip| ip.to_string()),
        device: Some(row.device_code_hash.clone()),
    })
}

/// The user consented: the device's request is approved with what the tokens are issued from.
pub(crate) async fn approve(
    state: &AppState,
    device_code_hash: &str,
    payload: &CodePayload,
    session: &SessionRow,
    now: UnixTime,
) -> Response {
    let decided = match serde_json::to_string(payload) {
        Ok(p) => {
            state
                .store()
                .decide_device_code(device_code_hash, Some(&p), now)
                .await
        }
        Err(e) => return OAuthError::Server(e.into()).into_response(),
    };
    match decided {
        Ok(true) => {
            if let Err(e) = state.store().touch_session(&session.session_id, now).await {
                tracing::warn!(error = %e, "could not touch the session");
            }
            outcome_page(
                "approved",
                "Device connected",
                "You have signed in on your device. You can close this page.",
            )
        }
        Ok(false) => bad_request_page(
            "This code has expired or was already used. Start again on your device.",
        ),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// The user refused (or the sign-in failed with `code`): the device's request is denied.
pub(crate) async fn deny(state: &AppState, device_code_hash: &str, code: &str) -> Response {
    match state
        .store()
        .decide_device_code(device_code_hash, None, state.now())
        .await
    {
        Ok(_) => {
            tracing::info!(code, "device authorization denied");
            outcome_page(
                "denied",
                "Access denied",
                "The device was not given access. You can close this page.",
            )
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// The token endpoint's device_code grant (RFC 8628 §3.4, §3.5).
pub async fn grant(
    state: &AppState,
    client: &Client,
    form: &OAuthForm,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    state.require(FeatureFlag::DeviceAuthz)?;
    let device_code = form.require("device_code")?;
    if !client.allows_grant(GRANT_TYPE) {
        return Err(OAuthError::UnauthorizedClient(
            "client is not registered for the device_code grant".into(),
        ));
    }
    let refused = |code: &str, d: &str| OAuthError::Refused {
        code: code.into(),
        description: d.into(),
    };
    let hash = sha256_b64(device_code.as_bytes());
    let now = state.now();
    let row = state
        .store()
        .find_device_code(&hash)
        .await?
        .filter(|r| r.client_id == client.client_id)
        .ok_or_else(|| OAuthError::InvalidGrant("unknown device code".into()))?;
    if now >= row.expires_at {
        return Err(refused("expired_token", "the device code has expired"));
    }
    if !state
        .store()
        .poll_device_code(&hash, now, SLOW_DOWN_SECS)
        .await?
    {
        return Err(refused(
            "slow_down",
            "polling too fast; wait longer between requests",
        ));
    }
    let payload: CodePayload = match row.status.as_str() {
        "pending" => {
            return Err(refused(
                "authorization_pending",
                "the user has not finished yet",
            ));
        }
        "denied" => return Err(refused("access_denied", "the user denied access")),
        "approved" => row
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or_else(|| OAuthError::Server(anyhow::anyhow!("corrupt device payload")))?,
        _ => {
            return Err(OAuthError::InvalidGrant(
                "the device code was already used".into(),
            ));
        }
    };
    let user = state
        .store()
        .find_user(&payload.user_id)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| OAuthError::InvalidGrant("the user is no longer active".into()))?;
    let grant = user_grant(&row.grant_id, client, &payload, &user, GRANT_TYPE, now);
    let audience = resource::audience(client, Vec::new());
    let tokens =
        mint_user_tokens(state, client, &grant, &payload, &user, audience, jkt, now).await?;
    if !state
        .store()
        .redeem_device_code(&hash, &grant, &tokens.records())
        .await?
    {
        return Err(OAuthError::InvalidGrant(
            "the device code was already used".into(),
        ));
    }
    tracing::info!(client_id = %client.client_id, grant_id = %grant.grant_id, "device code redeemed");
    Ok(tokens.response(now, grant.scope))
}

/// A fresh user code: uniform over the alphabet (rejection sampling).
fn random_user_code() -> String {
    let mut out = String::with_capacity(USER_CODE_LEN);
    let limit = 256 - 256 % ALPHABET.len();
    while out.len() < USER_CODE_LEN {
        let mut buf = [0u8; 16];
        fill_random(&mut buf);
        for b in buf {
            if (b as usize) < limit && out.len() < USER_CODE_LEN {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// `BCDFGHJK` as `BCDF-GHJK`.
fn display(code: &str) -> String {
    let (a, b) = code.split_at(USER_CODE_LEN / 2);
    format!("{a}-{b}")
}

/// What the user typed, as stored: upper case, separators and spaces dropped.
fn normalize(entered: &str) -> String {
    entered
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(64)
        .collect()
}

fn code_page(status: StatusCode, user_code: &str, error: Option<&str>) -> Response {
    pages::page(
        status,
        "device.html",
        "Connect a device",
        minijinja::context! { user_code, error },
        &pages::Csp::default(),
    )
}

fn outcome_page(outcome: &str, heading: &str, message: &str) -> Response {
    pages::page(
        StatusCode::OK,
        "device_outcome.html",
        heading,
        minijinja::context! { outcome, heading, message },
        &pages::Csp::default(),
    )
}

/// Wrong user codes per client address, in fixed windows.
#[derive(Debug)]
pub struct CodeGuard {
    failures: Mutex<HashMap<Option<IpAddr>, (u32, UnixTime)>>,
    limit: u32,
    window: i64,
}

impl CodeGuard {
    /// A guard allowing `limit` wrong codes per address within `window` seconds.
    pub fn new(limit: u32, window: i64) -> Self {
        Self {
            failures: Mutex::default(),
            limit,
            window,
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, (u32, UnixTime)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `ip` may try a code now.
    pub fn allowed(&self, ip: Option<IpAddr>, now: UnixTime) -> bool {
        self.map()
            .get(&ip)
            .is_none_or(|(n, start)| *n < self.limit || now - start >= self.window)
    }

    /// Counts a wrong code from `ip`.
    pub fn failed(&self, ip: Option<IpAddr>, now: UnixTime) {
        let mut m = self.map();
        if m.len() >= MAX_TRACKED {
            m.retain(|_, (_, start)| now - *start < self.window);
        }
        let e = m.entry(ip).or_insert((0, now));
        if now - e.1 >= self.window {
            *e = (0, now);
        }
        e.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_read_back() {
        for _ in 0..200 {
            let c = random_user_code();
            assert_eq!(c.len(), 8);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(normalize(&display(&c).to_lowercase()), c);
            assert_eq!(normalize(&format!(" {} ", display(&c))), c);
        }
    }

    #[test]
    fn the_guard_counts_per_address_and_window() {
        let g = CodeGuard::new(2, 60);
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(g.allowed(ip, 0));
        g.failed(ip, 0);
        g.failed(ip, 1);
        assert!(!g.allowed(ip, 2));
        assert!(g.allowed(Some(IpAddr::from([10, 0, 0, 2])), 2));
        assert!(g.allowed(ip, 60));
        g.failed(ip, 61);
        assert!(g.allowed(ip, 62));
    }
}
