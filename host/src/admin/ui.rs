//! The web admin UI at `/admin` (seed 001's Auth Server menu): server-rendered pages on the
//! admin API. It signs administrators in through Tessera's own login as an ordinary client of
//! itself (`tessera-admin-ui`: authorization code with PKCE, no consent for this first-party
//! client), keeps the access token in a cookie sealed with the master key, and performs every
//! read and change as an admin API call with that token, so the API's checks (admin role, scopes,
//! `If-Match`, validation, audit) apply to the UI unchanged. The calls and the code exchange go
//! through the routers in-process: the UI never needs to reach its own public URL.
//!
//! Every form carries a CSRF token bound to the session; the session cookie is `SameSite=Strict`
//! and scoped to `/admin`; a cross-origin `Origin` on a change is refused. Pages load script and
//! style from `/admin/static` only (a strict CSP, no inline code) and cannot be framed.

mod clients;
mod plugins;
mod screens;

use crate::crypto::secrets::{ct_eq, random_token, sha256_b64};
use crate::http::pages::{self, Csp};
use crate::server::AppState;
use crate::session::cookie;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::LazyLock;
use tower::ServiceExt as _;

/// The admin UI's client (public, PKCE, redirect URI `{issuer}/admin/callback`).
pub const UI_CLIENT_ID: &str = "tessera-admin-ui";
/// The signed-in administrator's session: a sealed [`Session`].
const SESSION_COOKIE: &str = "tessera_admin";
/// The sign-in in progress: a sealed [`Flow`].
const FLOW_COOKIE: &str = "tessera_admin_flow";
/// How long a sign-in may take.
const FLOW_SECONDS: i64 = 600;
/// Under the admin UI only.
const COOKIE_PATH: &str = "/admin";

/// The admin UI's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/", get(|| async { see_other("/admin") }))
        .route("/admin/signin", get(signin))
        .route("/admin/callback", get(callback))
        .route("/admin/signout", post(signout))
        .route("/admin/activity.json", get(activity))
        .route("/admin/static/admin.css", get(css))
        .route("/admin/static/admin.js", get(js))
        .merge(screens::router())
        .merge(clients::router())
        .merge(plugins::router())
}

/// The signed-in administrator, from the session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Always `admin-ui`: what the sealed value is for.
    purpose: String,
    /// The access token the admin API calls carry.
    token: String,
    /// The ID token, as `id_token_hint` when signing out.
    id_token: String,
    /// The CSRF token every form carries.
    pub csrf: String,
    /// The administrator's username.
    pub user: String,
    /// When the session (the access token) expires, Unix seconds.
    expires_at: i64,
}

/// A sign-in in progress.
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    /// Always `admin-ui-flow`.
    purpose: String,
    state: String,
    verifier: String,
    nonce: String,
    expires_at: i64,
}

const SESSION_PURPOSE: &str = "admin-ui";
const FLOW_PURPOSE: &str = "admin-ui-flow";

fn open<T: for<'de> Deserialize<'de>>(state: &AppState, sealed: &str) -> Option<T> {
    let plain = state.master_key().open(sealed)?;
    serde_json::from_slice(&plain).ok()
}

fn seal<T: Serialize>(state: &AppState, value: &T) -> String {
    state
        .master_key()
        .seal(&serde_json::to_vec(value).unwrap_or_default())
}

/// `Set-Cookie` for one of the admin UI's cookies (scoped to `/admin`, ending with the browser
/// session); `None` deletes it.
fn set_cookie(state: &AppState, name: &str, value: Option<&str>, same_site: &str) -> HeaderValue {
    crate::session::cookie_header(state, name, value, COOKIE_PATH, same_site, None)
}

/// A 303 to `location` with the page security headers.
fn see_other(location: &str) -> Response {
    crate::oauth::redirect::redirect(location)
}

/// Why a request has no administrator: not signed in (or the session ran out), or a change
/// from another origin.
pub enum NoSession {
    /// Sign in first.
    SignIn,
    /// A change whose `Origin` is not this server's.
    CrossOrigin,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn => see_other("/admin/signin"),
            NoSession::CrossOrigin => pages::error_page(
                StatusCode::FORBIDDEN,
                "Request refused",
                "This change was sent from another site.",
            ),
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let origin = parts
                .headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok());
            if let Some(origin) = origin
                && origin != issuer_origin(state.issuer())
            {
                return Err(NoSession::CrossOrigin);
            }
        }
        let session: Session = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|c| open(state, c))
            .ok_or(NoSession::SignIn)?;
        if session.purpose != SESSION_PURPOSE || session.expires_at <= state.now() {
            return Err(NoSession::SignIn);
        }
        Ok(session)
    }
}

/// `scheme://host[:port]` of the issuer.
fn issuer_origin(issuer: &str) -> String {
    url::Url::parse(issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// A posted form: its fields in order, the CSRF token checked against the session.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body and checks its `csrf` field.
    pub fn checked(session: &Session, body: &[u8]) -> Result<Self, Forged> {
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let form = Form(fields);
        match form.get("csrf") {
            Some(c) if ct_eq(c.as_bytes(), session.csrf.as_bytes()) => Ok(form),
            _ => Err(Forged),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, or "".
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    /// Whether checkbox `name` was ticked.
    pub fn checked_box(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A posted form of the signed-in administrator whose CSRF token matched: the extractor every
/// change handler takes (last, as it reads the body).
pub struct Posted {
    /// The administrator.
    pub session: Session,
    /// The form.
    pub form: Form,
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let req = axum::extract::Request::from_parts(parts, body);
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Form::checked(&session, &body).map_err(IntoResponse::into_response)?;
        Ok(Self { session, form })
    }
}

/// A form without the session's CSRF token: refused with 403.
#[derive(Debug)]
pub struct Forged;

impl IntoResponse for Forged {
    fn into_response(self) -> Response {
        pages::error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from a page of this admin console. Reload the page and try again.",
        )
    }
}

/// An admin API answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its `ETag`.
    pub etag: String,
    /// Its JSON body (`null` when there is none).
    pub body: serde_json::Value,
}

impl Reply {
    /// Whether the call succeeded.
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// What went wrong, for the administrator: the problem's `detail` (or `title`).
    pub fn problem(&self) -> String {
        let detail = self.body["detail"]
            .as_str()
            .or(self.body["title"].as_str())
            .unwrap_or("the request failed");
        format!("{} ({})", detail, self.status.as_u16())
    }
}

static API: LazyLock<Router<AppState>> = LazyLock::new(crate::admin::api::router);
static OAUTH: LazyLock<Router<AppState>> = LazyLock::new(|| {
    Router::new()
        .route("/token", post(crate::oauth::token::token))
        .route("/revoke", post(crate::oauth::revoke::revoke))
});

/// Sends `req` to `router` in-process and reads the JSON answer.
async fn send(router: &Router<AppState>, state: &AppState, req: Request<Body>) -> Reply {
    let resp = match router.clone().with_state(state.clone()).oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status();
    let etag = resp
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Reply { status, etag, body }
}

/// The admin API as the signed-in administrator.
pub struct Api<'a> {
    state: &'a AppState,
    token: &'a str,
}

impl<'a> Api<'a> {
    /// Calls as `session`'s administrator.
    pub fn new(state: &'a AppState, session: &'a Session) -> Self {
        Self {
            state,
            token: &session.token,
        }
    }

    /// `method path` (under `/admin/api/v1`) with an optional body of `content_type`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        if_match: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", crate::admin::api::BASE))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(tag) = if_match {
            req = req.header(header::IF_MATCH, tag);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        match req.body(body) {
            Ok(req) => send(&API, self.state, req).await,
            Err(e) => Reply {
                status: StatusCode::BAD_REQUEST,
                etag: String::new(),
                body: json!({"detail": e.to_string()}),
            },
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    /// `method path` with a JSON body.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
        if_match: Option<&str>,
    ) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.call(method, path, Some(("application/json", bytes)), if_match)
            .await
    }

    /// `PATCH path` with a JSON Patch.
    pub async fn patch(&self, path: &str, ops: &serde_json::Value, if_match: &str) -> Reply {
        let bytes = serde_json::to_vec(ops).unwrap_or_default();
        self.call(
            Method::PATCH,
            path,
            Some(("application/json-patch+json", bytes)),
            Some(if_match),
        )
        .await
    }
}

/// What a screen shows above its content after a change.
#[derive(Debug, Default, Serialize)]
pub struct Notice {
    /// It worked.
    pub ok: Option<String>,
    /// It did not; the API's reason.
    pub error: Option<String>,
}

impl Notice {
    /// A success.
    pub fn ok(m: impl Into<String>) -> Self {
        Self {
            ok: Some(m.into()),
            error: None,
        }
    }

    /// A failure.
    pub fn error(m: impl Into<String>) -> Self {
        Self {
            ok: None,
            error: Some(m.into()),
        }
    }

    /// `ok` when `reply` succeeded, else its problem.
    pub fn of(reply: &Reply, ok: impl Into<String>) -> Self {
        if reply.ok() {
            Self::ok(ok)
        } else {
            Self::error(reply.problem())
        }
    }
}

/// The admin UI's CSP: same-origin script, style and fetches only.
fn csp() -> Csp<'static> {
    Csp {
        same_origin_assets: true,
        ..Csp::default()
    }
}

/// A screen: `template` in the admin layout, `nav` marking the menu entry; failed notices answer
/// with `status` 400 unless given otherwise.
pub fn screen(
    session: &Session,
    template: &str,
    title: &str,
    nav: &str,
    notice: Notice,
    ctx: Value,
) -> Response {
    let status = if notice.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = pages::page(
        status,
        template,
        title,
        context! { nav, notice, user => &session.user, csrf => &session.csrf, ..ctx },
        &csp(),
    );
    // Same-origin requests carry their Origin (checked on every change); with `no-referrer`
    // browsers send `Origin: null` instead.
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

/// A failed read: the screen cannot be shown.
pub fn failed(session: &Session, reply: &Reply) -> Response {
    let mut resp = screen(
        session,
        "admin/error.html",
        "Error",
        "",
        Notice::error(reply.problem()),
        context! {},
    );
    *resp.status_mut() = if reply.status.is_client_error() || reply.status.is_server_error() {
        reply.status
    } else {
        StatusCode::BAD_GATEWAY
    };
    resp
}

/// Makes sure the admin UI's client exists with `issuer`'s redirect URI.
pub async fn ensure_client(
    store: &crate::store::Store,
    master: &crate::crypto::secrets::MasterKey,
    issuer: &str,
    now: crate::clock::UnixTime,
) -> Result<(), crate::admin::clients::ClientError> {
    let wanted = json!({
        "client_id": UI_CLIENT_ID,
        "client_name": "Tessera admin console",
        "description": "The web admin UI at /admin (made by the server).",
        "application_type": "web",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "redirect_uris": [format!("{issuer}/admin/callback")],
        "post_logout_redirect_uris": [format!("{issuer}/admin/signin")],
        "scope": format!("openid {}", crate::admin::api::auth::ALL),
        "require_pkce": true,
        "trusted_client": true,
    });
    match store.find_client(UI_CLIENT_ID).await? {
        None => match crate::admin::clients::create(store, master, wanted, now).await {
            Ok(_) | Err(crate::admin::clients::ClientError::Exists(_)) => Ok(()),
            Err(e) => Err(e),
        },
        Some(c) if c.metadata.redirect_uris == [format!("{issuer}/admin/callback")] => Ok(()),
        Some(_) => {
            // The issuer changed: point the client at this one.
            let current = crate::admin::clients::current(store, UI_CLIENT_ID).await?;
            crate::admin::clients::replace(store, master, current, wanted, now)
                .await
                .map(|_| ())
        }
    }
}

/// `GET /admin/signin`: starts an authorization code flow with PKCE at our own `/authorize`.
async fn signin(State(state): State<AppState>) -> Response {
    if let Err(e) = ensure_client(
        state.store(),
        state.master_key(),
        state.issuer(),
        state.now(),
    )
    .await
    {
        tracing::error!(error = %e, "making the admin UI client failed");
        return crate::oauth::interaction::unavailable();
    }
    let flow = Flow {
        purpose: FLOW_PURPOSE.into(),
        state: random_token(24),
        verifier: random_token(32),
        nonce: random_token(24),
        expires_at: state.now() + FLOW_SECONDS,
    };
    let mut url = match url::Url::parse(&state.urls().authorization) {
        Ok(u) => u,
        Err(_) => return crate::oauth::interaction::unavailable(),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", UI_CLIENT_ID)
        .append_pair("redirect_uri", &callback_uri(&state))
        .append_pair("scope", &format!("openid {}", crate::admin::api::auth::ALL))
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &sha256_b64(flow.verifier.as_bytes()))
        .append_pair("code_challenge_method", "S256");
    let mut resp = see_other(url.as_str());
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, FLOW_COOKIE, Some(&seal(&state, &flow)), "Lax"),
    );
    resp
}

fn callback_uri(state: &AppState) -> String {
    format!("{}/admin/callback", state.issuer())
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /admin/callback`: checks `state`, exchanges the code (with the PKCE verifier) at our own
/// token endpoint, checks the ID token's nonce and that the user is an administrator (an admin
/// API call), then starts the session.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let refused = |msg: &str| pages::error_page(StatusCode::BAD_REQUEST, "Sign-in failed", msg);
    let flow: Option<Flow> = cookie(&headers, FLOW_COOKIE).and_then(|c| open(&state, c));
    let Some(flow) = flow.filter(|f| f.purpose == FLOW_PURPOSE && f.expires_at > state.now())
    else {
        return refused("This sign-in was not started here or took too long. Start again.");
    };
    if !q
        .state
        .as_deref()
        .is_some_and(|s| ct_eq(s.as_bytes(), flow.state.as_bytes()))
    {
        return refused("The sign-in response does not belong to this browser. Start again.");
    }
    if let Some(error) = q.error {
        let why = q.error_description.unwrap_or(error);
        return refused(&format!("The sign-in was not completed: {why}"));
    }
    let Some(code) = q.code else {
        return refused("The sign-in response carries no code.");
    };
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &callback_uri(&state))
        .append_pair("client_id", UI_CLIENT_ID)
        .append_pair("code_verifier", &flow.verifier)
        .finish();
    let Ok(req) = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
    else {
        return refused("The code could not be exchanged.");
    };
    let tokens = send(&OAUTH, &state, req).await;
    if !tokens.ok() {
        tracing::warn!(status = %tokens.status, error = %tokens.body["error"], "admin UI code exchange refused");
        return refused("The code could not be exchanged. Start again.");
    }
    let (Some(token), Some(id_token)) = (
        tokens.body["access_token"].as_str(),
        tokens.body["id_token"].as_str(),
    ) else {
        return refused("The token response is incomplete.");
    };
    // The ID token came straight from our own token endpoint in this process; its nonce ties
    // it to this sign-in.
    let claims = crate::crypto::jwt::unverified_claims(id_token).unwrap_or_default();
    if claims.get("nonce").and_then(|n| n.as_str()) != Some(flow.nonce.as_str()) {
        return refused("The ID token does not belong to this sign-in.");
    }
    let sub = claims.get("sub").and_then(|s| s.as_str()).unwrap_or("");
    let user = match state.store().find_user(sub).await {
        Ok(Some(u)) => u.username,
        Ok(None) => sub.to_string(),
        Err(_) => return crate::oauth::interaction::unavailable(),
    };
    let session = Session {
        purpose: SESSION_PURPOSE.into(),
        token: token.into(),
        id_token: id_token.into(),
        csrf: random_token(24),
        user,
        expires_at: state.now() + tokens.body["expires_in"].as_i64().unwrap_or(300),
    };
    // The admin API decides who is an administrator.
    let probe = Api::new(&state, &session).get("/config").await;
    if !probe.ok() {
        revoke(&state, &session.token).await;
        let (status, msg) = if probe.status == StatusCode::FORBIDDEN {
            (
                StatusCode::FORBIDDEN,
                "This account is not an administrator of this server.",
            )
        } else {
            (probe.status, "The admin API refused this sign-in.")
        };
        return pages::error_page(status, "Not an administrator", msg);
    }
    let mut resp = see_other("/admin");
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, FLOW_COOKIE, None, "Lax"),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            SESSION_COOKIE,
            Some(&seal(&state, &session)),
            "Strict",
        ),
    );
    resp
}

async fn revoke(state: &AppState, token: &str) {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("client_id", UI_CLIENT_ID)
        .finish();
    if let Ok(req) = Request::post("/revoke")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
    {
        let r = send(&OAUTH, state, req).await;
        if !r.ok() {
            tracing::warn!(status = %r.status, "revoking the admin UI's token failed");
        }
    }
}

/// `POST /admin/signout`: revokes the token, forgets the session, and ends the Tessera sign-in
/// through RP-initiated logout.
async fn signout(
    State(state): State<AppState>,
    session: Session,
    body: axum::body::Bytes,
) -> Response {
    if let Err(forged) = Form::checked(&session, &body) {
        return forged.into_response();
    }
    revoke(&state, &session.token).await;
    let mut url = match url::Url::parse(&state.urls().end_session) {
        Ok(u) => u,
        Err(_) => return see_other("/admin/signin"),
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &session.id_token)
        .append_pair("client_id", UI_CLIENT_ID)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/admin/signin", state.issuer()),
        );
    let mut resp = see_other(url.as_str());
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, None, "Strict"),
    );
    resp
}

/// `GET /admin`: the dashboard.
async fn dashboard(State(state): State<AppState>, session: Session) -> Response {
    let api = Api::new(&state, &session);
    let plugins = api.get("/plugins").await;
    let sessions = api.get("/sessions?limit=1").await;
    let clients = api.get("/clients?limit=1").await;
    let series = state.metrics().activity().series();
    screen(
        &session,
        "admin/dashboard.html",
        "Dashboard",
        "dashboard",
        Notice::default(),
        context! {
            charts => charts(&series),
            plugins => plugins.body["items"].clone(),
            active_sessions => sessions.body["total"].clone(),
            clients => clients.body["total"].clone(),
        },
    )
}

/// One chart per series: its name, the total over the window, the last minute, and the SVG
/// polyline points (100 × 30 box).
fn charts(s: &crate::activity::Series) -> Vec<Value> {
    [
        ("tokens", "Tokens issued", &s.tokens),
        ("logins", "Logins", &s.logins),
        ("login_failures", "Failed logins", &s.login_failures),
        ("errors", "Error responses", &s.errors),
        ("plugin_calls", "Plugin calls", &s.plugin_calls),
        ("plugin_errors", "Failed plugin calls", &s.plugin_errors),
    ]
    .into_iter()
    .map(|(id, label, v)| {
        context! {
            id, label,
            total => v.iter().sum::<u64>(),
            last => v.last().copied().unwrap_or(0),
            points => points(v),
        }
    })
    .collect()
}

/// SVG polyline points for `values` in a 100 × 30 box (the same drawing admin.js makes).
fn points(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 100.0 / (values.len().max(2) - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                30.0 - *v as f64 / max * 28.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /admin/activity.json`: the dashboard's live figures.
async fn activity(State(state): State<AppState>, _session: Session) -> Response {
    let mut resp = axum::Json(state.metrics().activity().series()).into_response();
    pages::security_headers(resp.headers_mut());
    resp
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    pages::security_headers(resp.headers_mut());
    resp
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../templates/admin/admin.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/admin/admin.js"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_points_span_the_box() {
        assert_eq!(points(&[0, 2, 1]), "0.0,30.0 50.0,2.0 100.0,16.0");
        assert_eq!(points(&[0, 0]), "0.0,30.0 100.0,30.0");
    }

    #[test]
    fn origin_of_the_issuer() {
        assert_eq!(
            issuer_origin("https://id.example.com/t"),
            "https://id.example.com"
        );
        assert_eq!(
            issuer_origin("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
