//! Browser sessions: the session cookie (HttpOnly, SameSite=Lax, Secure on https issuers), the
//! browser-binding cookie that ties login and consent forms to the browser that started the
//! request, and loading the current session with both lifetimes applied.

pub mod throttle;

use crate::clock::UnixTime;
use crate::crypto::secrets::{random_token, sha256_b64};
use crate::model::User;
use crate::server::AppState;
use crate::store::{SessionRow, StoreResult};
use axum::http::{HeaderMap, HeaderValue, header};

/// The session cookie.
pub const SESSION_COOKIE: &str = "tessera_session";
/// The browser-binding cookie (CSRF defence for the login and consent forms).
pub const BROWSER_COOKIE: &str = "tessera_browser";
/// The method recorded for password login (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";

/// The value of cookie `name` in the request, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for `name=value` with our attributes; `max_age` `None` deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    match max_age {
        Some(a) => cookie_header(state, name, Some(value), "/", "Lax", Some(a)),
        None => cookie_header(state, name, None, "/", "Lax", None),
    }
}

/// A `Set-Cookie` value for `name`: `value` (`None` deletes the cookie), `Path=path`,
/// `HttpOnly`, `SameSite=same_site`, `Secure` on https issuers, and `Max-Age=max_age` when given
/// (else a browser-session cookie).
pub fn cookie_header(
    state: &AppState,
    name: &str,
    value: Option<&str>,
    path: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let secure = if state.settings().secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let (value, age) = match (value, max_age) {
        (None, _) => ("", "; Max-Age=0".to_string()),
        (Some(v), Some(a)) => (v, format!("; Max-Age={a}")),
        (Some(v), None) => (v, String::new()),
    };
    // Values are base64url, so they never need quoting; an invalid header cannot arise.
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("tessera_invalid=; Max-Age=0"))
}

/// The current session of the browser, if it has one that is still valid at `now`.
pub async fn current(state: &AppState, headers: &HeaderMap) -> StoreResult<Option<SessionRow>> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(s) = state
        .store()
        .find_session_by_cookie(&sha256_b64(value.as_bytes()))
        .await?
    else {
        return Ok(None);
    };
    if !is_live(state, &s) {
        state.store().delete_session(&s.session_id).await?;
        return Ok(None);
    }
    Ok(Some(s))
}

/// Whether a session is still valid now: before its absolute expiry, and used within the
/// unused lifetime.
pub fn is_live(state: &AppState, s: &SessionRow) -> bool {
    let now = state.now();
    now < s.expires_at && now - s.last_used_at < state.settings().session.unused_lifetime
}

/// Starts a new session for `user` after a login, replacing the browser's previous session
/// (the session id rotates at every login). Returns the row and the `Set-Cookie` value.
pub async fn login(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    acr: &str,
    now: UnixTime,
) -> StoreResult<(SessionRow, HeaderValue)> {
    let cookie_value = random_token(32);
    let lifetime = state.settings().session.lifetime;
    let row = SessionRow {
        session_id: random_token(16),
        user_id: user.user_id.clone(),
        auth_time: now,
        acr: acr.to_string(),
        amr: vec![AMR_PASSWORD.into()],
        created_at: now,
        last_used_at: now,
        expires_at: now + lifetime,
    };
    let old = cookie(headers, SESSION_COOKIE).map(|v| sha256_b64(v.as_bytes()));
    state
        .store()
        .insert_session(&row, &sha256_b64(cookie_value.as_bytes()), old.as_deref())
        .await?;
    let set = set_cookie(state, SESSION_COOKIE, &cookie_value, Some(lifetime));
    Ok((row, set))
}

/// The browser-binding cookie's value, and a `Set-Cookie` if it had to be created.
pub fn browser_binding(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, BROWSER_COOKIE) {
        Some(v) if v.len() >= 32 => (v.to_string(), None),
        _ => {
            let v = random_token(32);
            let set = set_cookie(
                state,
                BROWSER_COOKIE,
                &v,
                Some(state.settings().session.lifetime),
            );
            (v, Some(set))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_session=abc"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("tessera_browser=\"xyz\""),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, BROWSER_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
