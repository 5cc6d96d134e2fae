//! The login and consent pages of a pending authorization request. Each form carries the
//! request id and its CSRF token, and is accepted only from the browser that started the
//! request (its binding cookie's hash is stored with the request).

use crate::crypto::secrets::{ct_eq, sha256_b64};
use crate::http::PeerIp;
use crate::http::pages;
use crate::model::Client;
use crate::oauth::authorize::{self, AuthRequest, bad_request_page};
use crate::oauth::form::OAuthForm;
use crate::server::AppState;
use crate::session;
use crate::session::throttle::Refusal;
use crate::store::PendingRow;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

/// The request id in the page URL.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// The pending request.
    pub request: Option<String>,
}

/// A pending request this browser may continue.
struct Pending {
    row: PendingRow,
    request: AuthRequest,
    client: Client,
}

/// Loads the pending request `id` if it is live and this browser started it.
async fn load(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&str>,
) -> Result<Pending, Response> {
    let expired = || {
        bad_request_page(
            "This sign-in request has expired or is unknown. Go back to the application and start again.",
        )
    };
    let id = id.ok_or_else(expired)?;
    let row = match state.store().find_pending(id).await {
        Ok(Some(r)) if r.expires_at > state.now() => r,
        Ok(_) => return Err(expired()),
        Err(e) => {
            tracing::error!(error = %e, "pending request lookup failed");
            return Err(unavailable());
        }
    };
    let bound = session::cookie(headers, session::BROWSER_COOKIE).is_some_and(|b| {
        ct_eq(
            sha256_b64(b.as_bytes()).as_bytes(),
            row.browser_hash.as_bytes(),
        )
    });
    if !bound {
        return Err(forbidden());
    }
    let request: AuthRequest = serde_json::from_str(&row.payload).map_err(|e| {
        tracing::error!(error = %e, "corrupt pending request");
        expired()
    })?;
    let client = match state
        .store()
        .find_client(&request.client_id)
        .await
        .map(|c| c.map(std::sync::Arc::unwrap_or_clone))
    {
        Ok(Some(c)) if c.is_usable(state.now()) => c,
        Ok(_) => return Err(bad_request_page("The client is unknown.")),
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return Err(unavailable());
        }
    };
    Ok(Pending {
        row,
        request,
        client,
    })
}

/// Loads the pending request a POSTed form names and checks its CSRF token.
async fn load_posted(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Pending, Response> {
    let p = load(state, headers, form.get("request")).await?;
    let csrf_ok = form
        .get("csrf")
        .is_some_and(|c| ct_eq(c.as_bytes(), p.row.csrf.as_bytes()));
    if !csrf_ok {
        return Err(forbidden());
    }
    Ok(p)
}

fn forbidden() -> Response {
    pages::error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from the page this site showed you. Go back to the application and start again.",
    )
}

/// The same answer whether or not the username exists.
fn locked_out(p: &Pending, username: &str, secs: i64) -> Response {
    let minutes = (secs + 59) / 60;
    let msg = format!(
        "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let mut resp = login_page_with(StatusCode::TOO_MANY_REQUESTS, p, username, Some(&msg));
    if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}

fn busy() -> Response {
    pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy",
        "The service is busy checking other sign-ins. Go back and try again in a moment.",
    )
}

/// The page for a storage failure during a browser step (503).
pub(crate) fn unavailable() -> Response {
    pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The service is temporarily unavailable. Try again in a moment.",
    )
}

fn client_name(c: &Client) -> &str {
    c.metadata.client_name.as_deref().unwrap_or(&c.client_id)
}

fn login_page(p: &Pending, username: &str, error: Option<&str>) -> Response {
    login_page_with(StatusCode::OK, p, username, error)
}

fn login_page_with(
    status: StatusCode,
    p: &Pending,
    username: &str,
    error: Option<&str>,
) -> Response {
    pages::page(
        status,
        "login.html",
        "Sign in",
        context! {
            client => client_name(&p.client),
            error,
            action => "/login",
            request => &p.row.request_id,
            csrf => &p.row.csrf,
            username,
        },
        &pages::Csp::default(),
    )
}

/// `GET /login?request=ID`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    match load(&state, &headers, q.request.as_deref()).await {
        Ok(p) => {
            let hint = p.request.login_hint.clone().unwrap_or_default();
            login_page(&p, &hint, None)
        }
        Err(resp) => resp,
    }
}

/// `POST /login`: unless the username or the address is locked out, checks the password
/// (same cost whether or not the user exists, at most a few at once), starts a new session
/// (rotating the session id) and continues the authorization.
pub async fn login_submit(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let mut p = match load_posted(&state, &headers, &form).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let username = form.get("username").unwrap_or("").to_string();
    let password = form.get("password").unwrap_or("").to_string();
    let guard = state.login_guard();
    if let Err(Refusal::LockedOut(secs)) = guard.check(&username, peer, state.now()) {
        tracing::warn!(username = ?username, client_ip = ?peer, "login refused: locked out");
        return locked_out(&p, &username, secs);
    }
    let user = match state.store().find_user_by_username(&username).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return unavailable();
        }
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match guard.verify(password, stored).await {
        Ok(ok) => ok,
        Err(_) => {
            tracing::warn!(client_ip = ?peer, "login refused: every password check is busy");
            return busy();
        }
    };
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            // Debug formatting escapes control characters: a username cannot forge log lines.
            tracing::warn!(username = ?username, client_ip = ?peer, client_id = %p.client.client_id, "login failed");
            let now = state.now();
            state.metrics().login(false);
            let details = serde_json::json!({"client_ip": peer.map(|ip| ip.to_string())});
            crate::admin::audit::oauth_event(
                &state,
                "login_failed",
                &p.client.client_id,
                Some(&username),
                details,
            )
            .await;
            guard.record_failure(&username, peer, now);
            if let Err(Refusal::LockedOut(secs)) = guard.check(&username, peer, now) {
                return locked_out(&p, &username, secs);
            }
            return login_page(&p, &username, Some("Wrong username or password."));
        }
    };
    guard.record_success(&username);
    state.metrics().login(true);
    let details =
        serde_json::json!({"client_ip": peer.map(|ip| ip.to_string()), "acr": p.request.acr});
    crate::admin::audit::oauth_event(
        &state,
        "login_succeeded",
        &p.client.client_id,
        Some(&user.user_id),
        details,
    )
    .await;
    state.stats().user_active(state.now(), &user.user_id);
    let now = state.now();
    let (session, cookie) = match session::login(&state, &headers, &user, &p.request.acr, now).await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "could not store the session");
            return unavailable();
        }
    };
    tracing::info!(client_id = %p.client.client_id, "user logged in");
    p.request.login_sid = Some(session.session_id.clone());
    let resp = authorize::proceed(
        &state,
        &headers,
        &p.client,
        p.request,
        Some(&p.row.request_id),
        Some(session),
    )
    .await;
    authorize::with_cookie(resp, cookie)
}

/// `GET /consent?request=ID`: the client and the scopes it asks for.
pub async fn consent_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let p = match load(&state, &headers, q.request.as_deref()).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(user) = session_user(&state, &headers).await else {
        return bad_request_page(
            "You are not signed in. Go back to the application and start again.",
        );
    };
    let descriptions = match state.store().list_scopes().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "scope lookup failed");
            return unavailable();
        }
    };
    let scopes: Vec<_> = p
        .request
        .scope
        .iter()
        .map(|s| {
            let d = descriptions
                .iter()
                .find(|d| &d.scope_id == s)
                .map(|d| d.description.as_str())
                .filter(|d| !d.is_empty())
                .unwrap_or(s);
            context! { scope => s, description => d }
        })
        .collect();
    pages::page(
        StatusCode::OK,
        "consent.html",
        "Allow access",
        context! {
            client => client_name(&p.client),
            scopes,
            claims => authorize::requested_claims(&p.request),
            resources => &p.request.resources,
            user,
            action => "/consent",
            request => &p.row.request_id,
            csrf => &p.row.csrf,
        },
        &pages::Csp::default(),
    )
}

/// `POST /consent`: allow (remembered when the client persists authorizations) or deny.
pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Response {
    let mut p = match load_posted(&state, &headers, &form).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let session = match session::current(&state, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return bad_request_page(
                "You are not signed in. Go back to the application and start again.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return unavailable();
        }
    };
    let id = p.row.request_id.clone();
    match form.get("decision") {
        Some("allow") => {}
        Some("deny") => {
            return authorize::finish_with_error(
                &state,
                &p.request,
                Some(&id),
                "access_denied",
                "the user denied access",
            )
            .await;
        }
        _ => return bad_request_page("The form was incomplete."),
    }
    if p.client.metadata.persist_client_authorizations {
        let mut consent = match state
            .store()
            .find_consent(&session.user_id, &p.client.client_id)
            .await
        {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                tracing::error!(error = %e, "consent lookup failed");
                return unavailable();
            }
        };
        // Remember exactly what the page showed: its scopes and its individual claims.
        for (have, shown) in [
            (&mut consent.scopes, p.request.scope.clone()),
            (&mut consent.claims, authorize::requested_claims(&p.request)),
        ] {
            for item in shown {
                if !have.contains(&item) {
                    have.push(item);
                }
            }
        }
        if let Err(e) = state
            .store()
            .save_consent(&session.user_id, &p.client.client_id, &consent, state.now())
            .await
        {
            tracing::error!(error = %e, "could not remember consent");
            return unavailable();
        }
    }
    p.request.consented = true;
    let details = serde_json::json!({"scope": p.request.scope});
    crate::admin::audit::oauth_event(
        &state,
        "consent_given",
        &p.client.client_id,
        Some(&session.user_id),
        details,
    )
    .await;
    authorize::proceed(
        &state,
        &headers,
        &p.client,
        p.request,
        Some(&id),
        Some(session),
    )
    .await
}

/// The signed-in user's display name, if the browser has a session.
async fn session_user(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let s = session::current(state, headers).await.ok()??;
    let u = state.store().find_user(&s.user_id).await.ok()??;
    Some(
        u.claims
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or(&u.username)
            .to_string(),
    )
}
