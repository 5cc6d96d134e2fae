//! `GET|POST /end_session` (OpenID RP-Initiated Logout 1.0, flag END_SESSION) with seed 003's
//! five properties (`[logout]`):
//!
//! 1. read the hint: an ID token we signed (checked also when expired, unless
//!    `reject_if_id_token_expired`), or an access token with `with_access_token`; a missing
//!    hint is refused with `force_id_token_hint_presence`;
//! 2. identify the RP (the hint's audience, `client_id`, both must agree) and check
//!    `post_logout_redirect_uri` against its registration (or the operator's allow-list with
//!    `allow_post_logout_redirect_without_validation`): a bad redirect is an error page, never
//!    a redirect;
//! 3. find the session: the browser's, which must be the hint's `sid` unless
//!    `allow_unmatched_sid`; with no session cookie, the session the hint names;
//! 4. without a usable hint, ask the user to confirm on a page first (no logout by a bare
//!    cross-site GET);
//! 5. end the session ([`super::end`]: tokens revoked, back-channel deliveries), then the
//!    end-session plugins shape the page holding the front-channel iframes, or the default page
//!    does, or, with no iframe to load, the browser goes straight to the redirect with `state`.

use super::FrontchannelRp;
use crate::config::FeatureFlag;
use crate::crypto::secrets::{random_token, sha256_b64};
use crate::http::pages::{self, Csp};
use crate::model::Client;
use crate::oauth::OAuthError;
use crate::oauth::authorize::subject_for;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::form::OAuthForm;
use crate::plugins::bindings::end_session as hook;
use crate::server::AppState;
use crate::session::{self, SESSION_COOKIE};
use crate::store::SessionRow;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use minijinja::context;

/// `GET|POST /end_session`.
pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<OAuthForm, OAuthError>,
) -> Response {
    if let Err(e) = state.require(FeatureFlag::EndSession) {
        return e.into_response();
    }
    match run(&state, &headers, form).await {
        Ok(r) => r,
        Err(e) => error_page(e),
    }
}

/// The request's parameters (RP-Initiated Logout §2), and `confirm` from our own "Sign out?"
/// form.
struct Params<'a> {
    id_token_hint: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
    logout_hint: Option<&'a str>,
    ui_locales: Option<&'a str>,
    confirm: Option<&'a str>,
}

impl<'a> Params<'a> {
    fn read(form: &'a OAuthForm, max: usize) -> Result<Self, OAuthError> {
        // An ID token with many claims can be long; everything else is bounded like /authorize.
        for (k, v) in form.iter() {
            if k != "id_token_hint" && v.len() > max {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is longer than {max} bytes"
                )));
            }
        }
        Ok(Self {
            id_token_hint: form.get("id_token_hint"),
            client_id: form.get("client_id"),
            post_logout_redirect_uri: form.get("post_logout_redirect_uri"),
            state: form.get("state"),
            logout_hint: form.get("logout_hint"),
            ui_locales: form.get("ui_locales"),
            confirm: form.get("confirm"),
        })
    }

    /// The parameters the "Sign out?" form carries back.
    fn fields(&self) -> [(&'static str, Option<&'a str>); 6] {
        [
            ("id_token_hint", self.id_token_hint),
            ("client_id", self.client_id),
            ("post_logout_redirect_uri", self.post_logout_redirect_uri),
            ("state", self.state),
            ("logout_hint", self.logout_hint),
            ("ui_locales", self.ui_locales),
        ]
    }
}

/// What a usable `id_token_hint` told us.
struct Hint {
    /// The RP it was issued to.
    client: Client,
    /// The session it came from, when it names one.
    sid: Option<String>,
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<OAuthForm, OAuthError>,
) -> Result<Response, OAuthError> {
    let form = form?;
    let p = Params::read(&form, state.settings().authorize.max_param_bytes)?;
    let settings = &state.settings().logout;

    // 1. The hint.
    let hint = match p.id_token_hint {
        Some(raw) => Some(read_hint(state, raw).await?),
        None if settings.force_id_token_hint_presence => {
            return Err(OAuthError::invalid_request("id_token_hint is required"));
        }
        None => None,
    };

    // 2. The RP and where the browser goes afterwards.
    let client = match (p.client_id, &hint) {
        (Some(id), Some(h)) if id != h.client.client_id => {
            return Err(OAuthError::invalid_request(
                "client_id is not the audience of the ID token hint",
            ));
        }
        (_, Some(h)) => Some(h.client.clone()),
        (Some(id), None) => Some(
            state
                .store()
                .find_client(id)
                .await?
                .map(std::sync::Arc::unwrap_or_clone)
                .filter(|c| c.is_usable(state.now()))
                .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?,
        ),
        (None, None) => None,
    };
    let redirect = match p.post_logout_redirect_uri {
        Some(uri) => Some(check_redirect(state, client.as_ref(), uri)?),
        None => None,
    };

    // 3. The session.
    let current = session::current(state, headers).await?;
    let hint_sid = hint.as_ref().and_then(|h| h.sid.as_deref());
    let target = match (&current, hint_sid) {
        (Some(s), Some(sid)) if s.session_id != sid && !settings.allow_unmatched_sid => {
            return Err(OAuthError::invalid_request(
                "the ID token hint belongs to another session",
            ));
        }
        (Some(s), _) => Some(s.clone()),
        (None, Some(sid)) => live_session(state, sid).await?,
        (None, None) => None,
    };

    // 4. Without a usable hint (or when logout_hint names someone else), the user confirms.
    if let (Some(s), Some(cookie)) = (&target, session::cookie(headers, SESSION_COOKIE))
        && current.is_some()
    {
        let token = confirm_token(cookie);
        let confirmed = p
            .confirm
            .is_some_and(|c| crate::crypto::secrets::ct_eq(c.as_bytes(), token.as_bytes()));
        let hint_is_user = match p.logout_hint {
            Some(lh) => names_user(state, s, client.as_ref(), lh).await?,
            None => true,
        };
        let hinted = hint.is_some() && hint_is_user;
        if !(confirmed || hinted) {
            return confirm_page(state, &p, &token, s, client.as_ref()).await;
        }
    }

    // 5. End it, notify the RPs, and show the page or redirect.
    let next = redirect.as_deref().map(|u| with_state(u, p.state));
    let ended = match &target {
        Some(s) => super::end(state, s, client.as_ref()).await?,
        None => None,
    };
    let mut resp = match ended {
        Some(e) if !(e.frontchannel.is_empty() && next.is_some()) => {
            let ctx = hook::Context {
                sid: e.session.session_id,
                user_id: Some(e.session.user_id),
                frontchannel: e.frontchannel,
                post_logout_redirect_uri: redirect,
                state: p.state.map(str::to_string),
            };
            match state.hooks().end_session(&ctx, &e.clients).await? {
                Some(html) => plugin_page(html, &ctx.frontchannel),
                None => default_page(&ctx.frontchannel, next.as_deref()),
            }
        }
        _ => match &next {
            Some(uri) => redirect_to(uri),
            None => default_page(&[], None),
        },
    };
    if current.is_some() {
        resp.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(state, SESSION_COOKIE, "", None),
        );
    }
    Ok(resp)
}

/// Checks `id_token_hint`: an ID token this server signed for a known client (`typ` `JWT`,
/// our issuer, a `sub`); expired ones only while `reject_if_id_token_expired` is off. With
/// `with_access_token`, an active access token of ours stands in for it.
async fn read_hint(state: &AppState, raw: &str) -> Result<Hint, OAuthError> {
    let settings = &state.settings().logout;
    let now = state.now();
    let verified = state.keys().load().verify_own(raw);
    let is_id_token = verified.as_ref().is_some_and(|j| {
        j.typ
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("JWT"))
    });
    if let (Some(jwt), true) = (&verified, is_id_token) {
        let c = &jwt.claims;
        if c.get("iss").and_then(|v| v.as_str()) != Some(state.issuer()) {
            return Err(OAuthError::invalid_request(
                "the ID token hint was not issued by this server",
            ));
        }
        if c.get("sub").and_then(|v| v.as_str()).is_none() {
            return Err(OAuthError::invalid_request(
                "the ID token hint is not an ID token",
            ));
        }
        let expired = c
            .get("exp")
            .and_then(|v| v.as_i64())
            .is_none_or(|e| e <= now);
        if expired && settings.reject_if_id_token_expired {
            return Err(OAuthError::invalid_request("the ID token hint has expired"));
        }
        let aud = match c.get("aud") {
            Some(serde_json::Value::String(a)) => Some(a.as_str()),
            Some(serde_json::Value::Array(a)) if a.len() == 1 => a[0].as_str(),
            _ => c.get("azp").and_then(|v| v.as_str()),
        }
        .ok_or_else(|| OAuthError::invalid_request("the ID token hint has no audience"))?;
        let client = state
            .store()
            .find_client(aud)
            .await?
            .map(std::sync::Arc::unwrap_or_clone)
            .filter(|cl| cl.is_usable(now))
            .ok_or_else(|| OAuthError::invalid_request("the ID token hint's client is unknown"))?;
        return Ok(Hint {
            client,
            sid: c.get("sid").and_then(|v| v.as_str()).map(str::to_string),
        });
    }
    if settings.with_access_token
        && let Some(t) = found(bearer::active_access_token(state, raw).await)?
        && let Some((grant, _)) = state.store().find_grant(&t.grant_id).await?
        && let Some(client) =
            found(bearer::client_of(state, &t).await)?.map(std::sync::Arc::unwrap_or_clone)
    {
        return Ok(Hint {
            client,
            sid: grant.session_id,
        });
    }
    Err(OAuthError::invalid_request(if verified.is_some() {
        "the id_token_hint is not an ID token"
    } else {
        "the ID token hint is invalid: it was not signed by this server"
    }))
}

/// What a bearer-token lookup found: `None` for an unusable token or client, storage failures
/// passed on.
fn found<T>(r: Result<T, BearerError>) -> Result<Option<T>, OAuthError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(BearerError::OAuth(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// `post_logout_redirect_uri` must be registered for the RP (exact match), or, with
/// `allow_post_logout_redirect_without_validation`, match the operator's allow-list.
fn check_redirect(
    state: &AppState,
    client: Option<&Client>,
    uri: &str,
) -> Result<String, OAuthError> {
    let Some(client) = client else {
        return Err(OAuthError::invalid_request(
            "post_logout_redirect_uri needs client_id or id_token_hint",
        ));
    };
    let s = &state.settings().logout;
    let registered = client
        .metadata
        .post_logout_redirect_uris
        .iter()
        .any(|u| u == uri);
    let allowed = s.allow_post_logout_redirect_without_validation
        && url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        && s.post_logout_redirect_allow_list
            .iter()
            .any(|p| crate::model::pattern::full_match(p, uri));
    if registered || allowed {
        Ok(uri.to_string())
    } else {
        Err(OAuthError::invalid_request(
            "post_logout_redirect_uri is not registered for this client",
        ))
    }
}

/// The session `sid` names, if it is still valid.
async fn live_session(state: &AppState, sid: &str) -> Result<Option<SessionRow>, OAuthError> {
    Ok(state
        .store()
        .find_session(sid)
        .await?
        .filter(|s| session::is_live(state, s)))
}

/// Whether `logout_hint` names the session's user: their username, `email`, user id or the
/// `sub` the RP knows them by.
async fn names_user(
    state: &AppState,
    s: &SessionRow,
    client: Option<&Client>,
    logout_hint: &str,
) -> Result<bool, OAuthError> {
    let Some(user) = state.store().find_user(&s.user_id).await? else {
        return Ok(false);
    };
    Ok(user.username == logout_hint
        || user.user_id == logout_hint
        || user.claims.get("email").and_then(|v| v.as_str()) == Some(logout_hint)
        || client.is_some_and(|c| subject_for(state, c, &user.user_id) == logout_hint))
}

/// The confirmation token of the "Sign out?" form: derived from the session cookie, which a
/// cross-site page cannot read.
fn confirm_token(session_cookie: &str) -> String {
    sha256_b64(format!("tessera end_session confirm\0{session_cookie}").as_bytes())
}

async fn confirm_page(
    state: &AppState,
    p: &Params<'_>,
    token: &str,
    s: &SessionRow,
    client: Option<&Client>,
) -> Result<Response, OAuthError> {
    let user = state
        .store()
        .find_user(&s.user_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    let fields: Vec<(&str, &str)> = p
        .fields()
        .iter()
        .filter_map(|(k, v)| v.map(|v| (*k, v)))
        .collect();
    Ok(pages::page(
        StatusCode::OK,
        "logout_confirm.html",
        "Sign out?",
        context! {
            user,
            client => client.map(|c| c.metadata.client_name.as_deref().unwrap_or(&c.client_id)),
            action => &state.urls().end_session,
            fields,
            confirm => token,
        },
        &Csp::default(),
    ))
}

/// The default logout page: one hidden iframe per front-channel RP, then (script, or the link)
/// on to the post-logout redirect.
fn default_page(frames: &[FrontchannelRp], next: Option<&str>) -> Response {
    let nonce = random_token(16);
    let frame_list: Vec<_> = frames
        .iter()
        .map(|f| context! { uri => &f.uri, client_id => &f.client_id })
        .collect();
    pages::page(
        StatusCode::OK,
        "logout.html",
        "Signed out",
        context! { frames => frame_list, next, nonce => &nonce },
        &Csp {
            script_nonce: Some(&nonce),
            frame_src: frame_origins(frames),
            ..Csp::default()
        },
    )
}

/// A plugin's page, under a policy that allows only its own inline scripts (by hash) and
/// frames from the front-channel RPs' origins.
fn plugin_page(html: String, frames: &[FrontchannelRp]) -> Response {
    let csp = Csp {
        script_hashes: inline_script_hashes(&html),
        frame_src: frame_origins(frames),
        ..Csp::default()
    };
    pages::document(StatusCode::OK, html, &csp)
}

fn frame_origins(frames: &[FrontchannelRp]) -> Vec<String> {
    let mut out: Vec<String> = frames
        .iter()
        .filter_map(|f| url::Url::parse(&f.uri).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect();
    out.sort();
    out.dedup();
    out
}

/// CSP hash sources (`sha256-...`) of the inline `<script>` elements of `html`. A script with
/// a `src`, or one this scan reads differently from a browser, gets no hash and is blocked.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<script") {
        let name_end = at + i + "<script".len();
        if !lower
            .as_bytes()
            .get(name_end)
            .is_some_and(|b| matches!(b, b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        {
            at = name_end;
            continue;
        }
        let Some(gt) = lower[name_end..].find('>') else {
            break;
        };
        let attrs = &lower[name_end..name_end + gt];
        let body = name_end + gt + 1;
        let Some(end) = lower[body..].find("</script") else {
            break;
        };
        let has_src = attrs
            .split(|c: char| c.is_ascii_whitespace())
            .any(|a| a == "src" || a.starts_with("src="));
        if !has_src {
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                &html.as_bytes()[body..body + end],
            );
            out.push(format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
            ));
        }
        at = body + end;
    }
    out
}

/// `uri` with `state` added to its query (RP-Initiated Logout §3).
fn with_state(uri: &str, state: Option<&str>) -> String {
    match (state, url::Url::parse(uri)) {
        (Some(s), Ok(mut u)) => {
            u.query_pairs_mut().append_pair("state", s);
            u.into()
        }
        _ => uri.to_string(),
    }
}

fn redirect_to(uri: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(uri) {
        h.insert(header::LOCATION, v);
    }
    pages::security_headers(h);
    resp
}

/// Errors are shown on a page: the browser is never sent to an unchecked redirect.
fn error_page(e: OAuthError) -> Response {
    if let OAuthError::Server(cause) | OAuthError::Unavailable(cause) = &e {
        tracing::error!(error = %cause, "end_session failed inside the server");
    }
    if let OAuthError::FeatureDisabled(_) = e {
        return e.into_response();
    }
    pages::coded_error_page(e.status(), "Sign-out failed", e.code(), &e.description())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_inline_scripts_only() {
        let html = "<p>x</p><script>alert(1)</script><SCRIPT src=\"https://evil/x.js\"></SCRIPT>\
                    <scripted></scripted><script type=\"module\">go()</script>";
        let h = inline_script_hashes(html);
        assert_eq!(h.len(), 2);
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"alert(1)");
        assert_eq!(
            h[0],
            format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(d.as_ref())
            )
        );
        assert!(inline_script_hashes("<script>unterminated").is_empty());
    }

    #[test]
    fn state_is_added_to_the_redirect() {
        assert_eq!(
            with_state("https://rp.example/bye?x=1", Some("a b")),
            "https://rp.example/bye?x=1&state=a+b"
        );
        assert_eq!(
            with_state("https://rp.example/bye", None),
            "https://rp.example/bye"
        );
    }
}
