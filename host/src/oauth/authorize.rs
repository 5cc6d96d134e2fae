//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2), GET and POST:
//! `response_type=code` with PKCE (S256 only), exact redirect URIs, `state`, `nonce`, `prompt`,
//! `max_age`, `acr_values`, `login_hint`, `claims` and the three response modes. An unknown
//! client or unregistered redirect URI gets an error page and never a redirect; every other
//! error goes back to the client with `error`, `state` and `iss` (RFC 9207).
//!
//! A request that needs the user (login, consent) is stored as a pending request and continued
//! by [`crate::oauth::interaction`]; [`proceed`] decides the next step either way.

use crate::clock::UnixTime;
use crate::crypto::secrets::{random_token, sha256_b64};
use crate::http::{PeerIp, pages};
use crate::model::{AuthContext, Client};
use crate::oauth::form::OAuthForm;
use crate::oauth::redirect::{self, ResponseMode, Target};
use crate::oauth::{OAuthError, par, request_object, resource, scope};
use crate::server::AppState;
use crate::session;
use crate::store::{CodeRow, PendingRow, SessionRow};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A validated authorization request, kept while the user logs in and consents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Where and how to answer.
    pub target: Target,
    /// Whether `redirect_uri` was sent (the token request must then repeat it, RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// Requested scopes.
    pub scope: Vec<String>,
    /// OpenID `nonce`.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt` values.
    pub prompt: Vec<String>,
    /// `max_age`, seconds.
    pub max_age: Option<i64>,
    /// The ACR this request must be satisfied with.
    pub acr: String,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// The `claims` parameter.
    pub claims: Option<Value>,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
    /// The session a login in this interaction created (so `prompt=login` and `max_age` are
    /// satisfied by it and not asked again).
    #[serde(default)]
    pub login_sid: Option<String>,
    /// The user consented in this interaction.
    #[serde(default)]
    pub consented: bool,
    /// The client IP address that sent the request (bounds pending sign-ins per address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// For a device authorization (RFC 8628): the device code's hash. The outcome then decides
    /// the device's request and is shown on a page; nothing is redirected (`target` is unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// What the code carries to the token endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodePayload {
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named it.
    pub redirect_uri_sent: bool,
    /// Granted scope, space-separated.
    pub scope: String,
    /// OpenID `nonce`.
    pub nonce: Option<String>,
    /// PKCE challenge (S256).
    pub code_challenge: Option<String>,
    /// The user's id.
    pub user_id: String,
    /// The `sub` this client sees.
    pub subject: String,
    /// The browser session.
    pub session_id: String,
    /// How the user authenticated.
    pub auth: AuthContext,
    /// RFC 8707 resources.
    pub resources: Vec<String>,
}

/// An authorization failure: shown as a page (client or redirect URI untrusted) or sent to
/// the client.
pub enum Failure {
    /// Never redirect: an error page with this message.
    Page(&'static str),
    /// Redirect with `error` and `error_description`.
    Redirect(&'static str, String),
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidScope(d) => Failure::Redirect("invalid_scope", d.into_owned()),
            OAuthError::InvalidTarget(d) => Failure::Redirect("invalid_target", d.into_owned()),
            OAuthError::InvalidRequest(d) => Failure::Redirect("invalid_request", d.into_owned()),
            OAuthError::Unavailable(cause) => {
                tracing::error!(error = %cause, "authorization failed: storage unavailable");
                Failure::Redirect("temporarily_unavailable", "try again later".into())
            }
            other => {
                tracing::error!(error = %other, "authorization failed inside the server");
                Failure::Redirect("server_error", "internal server error".into())
            }
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::from(OAuthError::from(e))
    }
}

/// `GET /authorize` and `POST /authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    let form = match OAuthForm::from_request(req, &state).await {
        Ok(f) => f,
        Err(_) => return bad_request_page("The authorization request is malformed."),
    };
    let (form, pushed) = match par::resolve(&state, form).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    // RFC 9101: a signed request object's parameters replace the rest (a pushed request's
    // object was unpacked when it was pushed).
    let form = match request_object::parameters(&state, &form, None).await {
        Ok(Some(object)) if !pushed => object,
        Ok(_) => form,
        Err(e) => return request_object::error_page(e),
    };
    let (client, target) = match trusted_target(&state, &form).await {
        Ok(t) => t,
        Err(msg) => return bad_request_page(msg),
    };
    // An oversized `state` is refused below, and not echoed back either.
    let max = state.settings().authorize.max_param_bytes;
    let st = form
        .get("state")
        .filter(|s| s.len() <= max)
        .map(str::to_string);
    if !pushed && par::required(&state, &client) {
        return error_response(
            &state,
            &target,
            st.as_deref(),
            "invalid_request",
            "this client must push its authorization requests first (RFC 9126)",
        );
    }
    let validated = match validate(&state, &client, target.clone(), &form).await {
        Ok(r) => restrict_claims(&state, &client, r).await,
        Err(e) => Err(e),
    };
    let mut request = match validated {
        Ok(r) => r,
        Err(Failure::Page(msg)) => return bad_request_page(msg),
        Err(Failure::Redirect(code, desc)) => {
            return error_response(&state, &target, st.as_deref(), code, &desc);
        }
    };
    request.client_ip = peer.map(|ip| ip.to_string());
    let session = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return fail(&state, &request, e.into()),
    };
    proceed(&state, &headers, &client, request, None, session).await
}

/// The error page for requests we must not redirect.
pub fn bad_request_page(msg: &str) -> Response {
    pages::error_page(StatusCode::BAD_REQUEST, "Request refused", msg)
}

/// Steps 1–2: a known, usable client and a redirect URI it registered. Failing either is a page.
pub(crate) async fn trusted_target(
    state: &AppState,
    form: &OAuthForm,
) -> Result<(Client, Target), &'static str> {
    let client_id = form
        .get("client_id")
        .ok_or("The request names no client.")?;
    let client = match state
        .store()
        .find_client(client_id)
        .await
        .map(|c| c.map(std::sync::Arc::unwrap_or_clone))
    {
        Ok(Some(c)) if c.is_usable(state.now()) => c,
        Ok(_) => return Err("The client is unknown."),
        Err(e) => {
            tracing::error!(error = %e, "client lookup failed");
            return Err("The service is temporarily unavailable.");
        }
    };
    let redirect_uri = match form.get("redirect_uri") {
        Some(uri) if redirect::is_registered(&client, uri) => uri.to_string(),
        Some(_) => return Err("The redirect URI is not registered for this client."),
        // OpenID requests must name it; plain OAuth may omit it when exactly one is registered.
        None if client.metadata.redirect_uris.len() == 1
            && !form
                .get("scope")
                .is_some_and(|s| s.split(' ').any(|x| x == "openid")) =>
        {
            client.metadata.redirect_uris[0].clone()
        }
        None => return Err("The request names no redirect URI."),
    };
    // The mode is needed to deliver even an error about the mode, so an unknown one falls back
    // to the default here and is refused in `validate`.
    let mode = form
        .get("response_mode")
        .and_then(ResponseMode::parse)
        .unwrap_or_else(|| ResponseMode::default_for(form.get("response_type")));
    Ok((client, Target { redirect_uri, mode }))
}

/// Step 3: every other parameter, each failure answered to the client.
pub(crate) async fn validate(
    state: &AppState,
    client: &Client,
    target: Target,
    form: &OAuthForm,
) -> Result<AuthRequest, Failure> {
    let invalid = |d: &str| Failure::Redirect("invalid_request", d.to_string());
    check_bounds(state, form)?;
    // `request` and `request_uri`s by reference were unpacked before (`request_object`); what
    // is left is a request_uri of no kind this server resolves.
    for (p, code) in [
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ] {
        if form.get(p).is_some() {
            return Err(Failure::Redirect(
                code,
                format!("the {p} parameter is not supported"),
            ));
        }
    }
    if form
        .get("response_mode")
        .is_some_and(|m| ResponseMode::parse(m).is_none())
    {
        return Err(invalid("unsupported response_mode"));
    }
    match form.get("response_type") {
        None => return Err(invalid("missing parameter response_type")),
        Some("code") => {}
        Some(_) => {
            return Err(Failure::Redirect(
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ));
        }
    }
    if !client.metadata.response_types.iter().any(|r| r == "code")
        || !client.allows_grant("authorization_code")
    {
        return Err(Failure::Redirect(
            "unauthorized_client",
            "the client is not registered for the authorization code flow".into(),
        ));
    }
    let code_challenge = pkce_challenge(state, client, form)?;
    let scope = scope::requested(state.store(), client, form.get("scope"), state.now()).await?;
    let openid = scope.iter().any(|s| s == "openid");
    let prompt = parse_prompt(form.get("prompt"))?;
    let max_age = match form.get("max_age") {
        None => client.metadata.default_max_age,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age must be a non-negative integer"))?,
        ),
    };
    let claims = match form.get("claims") {
        None => None,
        Some(_) if !openid => return Err(invalid("claims requires the openid scope")),
        Some(c) => Some(
            parse_claims(c, state.settings().authorize.max_json_depth).map_err(|d| invalid(&d))?,
        ),
    };
    let acr = choose_acr(state, client, form.get("acr_values"), claims.as_ref())?;
    let resources = resource::parse(form.all("resource"))?;
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri_sent: form.get("redirect_uri").is_some(),
        target,
        state: form.get("state").map(str::to_string),
        scope,
        nonce: form.get("nonce").map(str::to_string),
        code_challenge,
        prompt,
        max_age,
        acr,
        login_hint: form.get("login_hint").map(str::to_string),
        claims,
        resources,
        login_sid: None,
        consented: false,
        client_ip: None,
        device: None,
    })
}

/// The size bounds on what an unauthenticated request may make us store (`[authorize]`):
/// every parameter value, `claims` on its own bound, and the number of resources.
fn check_bounds(state: &AppState, form: &OAuthForm) -> Result<(), Failure> {
    let a = &state.settings().authorize;
    for (name, value) in form.iter() {
        let max = if name == "claims" {
            a.max_claims_bytes
        } else {
            a.max_param_bytes
        };
        if value.len() > max {
            return Err(Failure::Redirect(
                "invalid_request",
                format!("parameter {name} is longer than {max} bytes"),
            ));
        }
    }
    if form.all("resource").len() > a.max_resources {
        return Err(Failure::Redirect(
            "invalid_target",
            format!("at most {} resource values are accepted", a.max_resources),
        ));
    }
    Ok(())
}

/// Claim names of the `claims` parameter that are about the authentication, not the user.
const AUTHENTICATION_CLAIMS: &[&str] = &["acr", "auth_time", "sub"];

/// OpenID Connect Core §5.5: a user claim asked for through `claims` is released only if it
/// belongs to a scope this client may request; the others are dropped from the request here
/// (not an error, §5.5.1), so they are neither shown on consent nor released later.
async fn restrict_claims(
    state: &AppState,
    client: &Client,
    mut request: AuthRequest,
) -> Result<AuthRequest, Failure> {
    let Some(Value::Object(claims)) = request.claims.as_mut() else {
        return Ok(request);
    };
    let scopes = state.store().list_scopes().await?;
    let allowed: Vec<&str> = scopes
        .iter()
        .filter(|s| client.scopes().any(|c| c == s.scope_id))
        .flat_map(|s| s.claims.iter().map(String::as_str))
        .collect();
    for member in ["userinfo", "id_token"] {
        if let Some(Value::Object(names)) = claims.get_mut(member) {
            names.retain(|name, _| {
                AUTHENTICATION_CLAIMS.contains(&name.as_str()) || allowed.contains(&name.as_str())
            });
        }
    }
    Ok(request)
}

/// The user claims a request asks for individually (through `claims`), sorted, each once.
pub fn requested_claims(r: &AuthRequest) -> Vec<String> {
    let mut out: Vec<String> = ["userinfo", "id_token"]
        .iter()
        .filter_map(|m| r.claims.as_ref()?.get(m)?.as_object())
        .flat_map(|o| o.keys())
        .filter(|k| !AUTHENTICATION_CLAIMS.contains(&k.as_str()))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// RFC 7636: only S256; required for public clients (RFC 9700 §2.1.1), and for confidential
/// ones when the server (`authorize.require_pkce`) or the client (`require_pkce`) says so.
fn pkce_challenge(
    state: &AppState,
    client: &Client,
    form: &OAuthForm,
) -> Result<Option<String>, Failure> {
    let invalid = |d: &str| Failure::Redirect("invalid_request", d.to_string());
    let required = client.is_public()
        || client.metadata.require_pkce
        || state.settings().authorize.require_pkce;
    match (
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    ) {
        (None, Some(_)) => Err(invalid("code_challenge_method without code_challenge")),
        (None, None) if required => Err(invalid(
            "this client must use PKCE (code_challenge with S256)",
        )),
        (None, None) => Ok(None),
        // A missing method means `plain` (RFC 7636 §4.3), which we refuse.
        (Some(_), None | Some("plain")) => Err(invalid(
            "code_challenge_method plain is not allowed; use S256",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(invalid("unsupported code_challenge_method")),
        (Some(c), Some(_)) => {
            // base64url of a SHA-256: exactly 43 characters of the unreserved set.
            let ok = c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if ok {
                Ok(Some(c.to_string()))
            } else {
                Err(invalid("code_challenge is not a base64url SHA-256"))
            }
        }
    }
}

fn parse_prompt(p: Option<&str>) -> Result<Vec<String>, Failure> {
    let Some(p) = p else { return Ok(Vec::new()) };
    let values: Vec<String> = p
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = values
        .iter()
        .find(|v| !matches!(v.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(Failure::Redirect(
            "invalid_request",
            format!("unsupported prompt value {bad:?}"),
        ));
    }
    if values.iter().any(|v| v == "none") && values.len() > 1 {
        return Err(Failure::Redirect(
            "invalid_request",
            "prompt=none cannot be combined with other values".into(),
        ));
    }
    Ok(values)
}

/// The `claims` parameter (OpenID Connect Core §5.5): an object with optional `userinfo` and
/// `id_token` members, each mapping claim names to `null` or a request object; nested at most
/// `max_depth` levels.
pub fn parse_claims(raw: &str, max_depth: usize) -> Result<Value, String> {
    let v: Value = serde_json::from_str(raw).map_err(|_| "claims is not valid JSON".to_string())?;
    if crate::oauth::form::json_depth(&v) > max_depth {
        return Err(format!("claims is nested deeper than {max_depth} levels"));
    }
    let obj = v.as_object().ok_or("claims must be a JSON object")?;
    for (member, inner) in obj {
        if member != "userinfo" && member != "id_token" {
            continue;
        }
        let inner = inner
            .as_object()
            .ok_or_else(|| format!("claims.{member} must be an object"))?;
        if let Some((name, _)) = inner.iter().find(|(_, r)| !(r.is_null() || r.is_object())) {
            return Err(format!("claims.{member}.{name} must be null or an object"));
        }
    }
    Ok(v)
}

/// The ACR for this request: the first requested value (`acr_values`, or the `acr` claim
/// request) that the server enables and the client allows; else the client's default ACRs;
/// else the server default. `acr_values` is voluntary (OpenID Connect Core §3.1.2.1), but an
/// essential `acr` claim that cannot be met is an error.
pub(crate) fn choose_acr(
    state: &AppState,
    client: &Client,
    acr_values: Option<&str>,
    claims: Option<&Value>,
) -> Result<String, Failure> {
    let s = &state.settings().acr;
    let allowed_list = &client.metadata.authorized_acr_values;
    let allowed = |a: &str| {
        s.enabled.iter().any(|e| e == a)
            && (allowed_list.is_empty() || allowed_list.iter().any(|x| x == a))
    };
    let acr_claim = claims.and_then(|c| c.pointer("/id_token/acr"));
    let mut requested: Vec<String> = acr_values
        .map(|v| {
            v.split(' ')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(req) = acr_claim {
        if let Some(v) = req.get("value").and_then(Value::as_str) {
            requested.push(v.to_string());
        }
        if let Some(vs) = req.get("values").and_then(Value::as_array) {
            requested.extend(vs.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    if let Some(a) = requested.iter().find(|a| allowed(a)) {
        return Ok(a.clone());
    }
    let essential = acr_claim
        .and_then(|r| r.get("essential"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if essential && !requested.is_empty() {
        return Err(Failure::Redirect(
            "unmet_authentication_requirements",
            "none of the essential acr values can be satisfied".into(),
        ));
    }
    client
        .metadata
        .default_acr_values
        .iter()
        .chain(std::iter::once(&s.default))
        .chain(s.enabled.iter())
        .find(|a| allowed(a))
        .cloned()
        .ok_or_else(|| {
            Failure::Redirect(
                "invalid_request",
                "no enabled ACR is allowed for this client".into(),
            )
        })
}

/// Decides the next step for a validated request: log in, consent, or issue the code.
/// `pending_id` names the stored request when the user is already interacting.
pub async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    mut request: AuthRequest,
    pending_id: Option<&str>,
    session: Option<SessionRow>,
) -> Response {
    let now = state.now();
    let session = session.filter(|s| !needs_login(client, &request, s, now));
    let Some(session) = session else {
        if request.prompt.iter().any(|p| p == "none") {
            return finish_with_error(
                state,
                &request,
                pending_id,
                "login_required",
                "the user is not logged in",
            )
            .await;
        }
        return interact(state, headers, &request, pending_id, "/login").await;
    };
    match needs_consent(state, client, &request, &session).await {
        Err(e) => return fail(state, &request, e),
        Ok(true) if request.prompt.iter().any(|p| p == "none") => {
            return finish_with_error(
                state,
                &request,
                pending_id,
                "consent_required",
                "the user has not consented",
            )
            .await;
        }
        Ok(true) => return interact(state, headers, &request, pending_id, "/consent").await,
        Ok(false) => {}
    }
    if let Some(id) = pending_id {
        match state.store().delete_pending(id).await {
            Ok(true) => {}
            Ok(false) => return bad_request_page("This sign-in was already completed."),
            Err(e) => return fail(state, &request, e.into()),
        }
    }
    request.login_sid = None;
    if let Some(device) = &request.device {
        let payload = code_payload(state, client, &request, &session);
        return crate::oauth::device::approve(state, device, &payload, &session, now).await;
    }
    match issue_code(state, client, &request, &session, now).await {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = &request.state {
                params.push(("state", s));
            }
            params.push(("iss", state.issuer()));
            request.target.respond(&params)
        }
        Err(e) => fail(state, &request, e),
    }
}

/// Whether the session cannot be used as is for this request.
fn needs_login(client: &Client, r: &AuthRequest, s: &SessionRow, now: UnixTime) -> bool {
    let fresh = r.login_sid.as_deref() == Some(s.session_id.as_str());
    if fresh {
        return false;
    }
    let asked = r
        .prompt
        .iter()
        .any(|p| p == "login" || p == "select_account");
    let too_old = r.max_age.is_some_and(|m| now - s.auth_time > m);
    asked || client.metadata.default_prompt_login || too_old || s.acr != r.acr
}

/// Whether the user must be asked: `prompt=consent`, or neither a trusted client nor a
/// remembered consent that covers every requested scope.
async fn needs_consent(
    state: &AppState,
    client: &Client,
    r: &AuthRequest,
    s: &SessionRow,
) -> Result<bool, Failure> {
    if r.consented {
        return Ok(false);
    }
    if r.prompt.iter().any(|p| p == "consent") {
        return Ok(true);
    }
    if client.metadata.trusted_client {
        return Ok(false);
    }
    if !client.metadata.persist_client_authorizations {
        return Ok(true);
    }
    let remembered = state
        .store()
        .find_consent(&s.user_id, &client.client_id)
        .await?;
    // Remembered consent covers exactly what was shown: the scopes, and each claim that was
    // asked for individually. Anything more asks again.
    let covered = remembered.is_some_and(|given| {
        r.scope.iter().all(|want| given.scopes.contains(want))
            && requested_claims(r)
                .iter()
                .all(|want| given.claims.contains(want))
    });
    Ok(!covered)
}

/// Stores (or updates) the pending request and sends the browser to the login or consent page.
async fn interact(
    state: &AppState,
    headers: &HeaderMap,
    r: &AuthRequest,
    pending_id: Option<&str>,
    page: &str,
) -> Response {
    let payload = match serde_json::to_string(r) {
        Ok(p) => p,
        Err(e) => return fail(state, r, OAuthError::Server(e.into()).into()),
    };
    let (id, set_cookie) = match pending_id {
        Some(id) => match state.store().update_pending(id, &payload).await {
            Ok(()) => (id.to_string(), None),
            Err(e) => return fail(state, r, e.into()),
        },
        None => {
            let (binding, set_cookie) = session::browser_binding(state, headers);
            let now = state.now();
            let row = PendingRow {
                request_id: random_token(16),
                browser_hash: sha256_b64(binding.as_bytes()),
                csrf: random_token(32),
                payload,
                expires_at: now + state.settings().session.interaction_lifetime,
                client_ip: r.client_ip.clone(),
            };
            let cap = state.settings().authorize.max_pending_per_ip;
            match state.store().insert_pending(&row, now, cap).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(client_ip = ?r.client_ip, client_id = %r.client_id, "too many pending sign-ins from one address");
                    return pages::error_page(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many sign-ins in progress",
                        "Too many sign-in requests from your network are waiting to be finished. Finish one, or try again in a few minutes.",
                    );
                }
                Err(e) => return fail(state, r, e.into()),
            }
            (row.request_id, set_cookie)
        }
    };
    let mut resp = redirect::redirect(&format!("{page}?request={id}"));
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Creates the code (the grant itself is created when the code is redeemed).
async fn issue_code(
    state: &AppState,
    client: &Client,
    r: &AuthRequest,
    s: &SessionRow,
    now: UnixTime,
) -> Result<String, Failure> {
    let payload = code_payload(state, client, r, s);
    let code = random_token(32);
    let row = CodeRow {
        code_hash: sha256_b64(code.as_bytes()),
        grant_id: crate::crypto::secrets::ordered_id(),
        client_id: client.client_id.clone(),
        payload: serde_json::to_string(&payload).map_err(|e| OAuthError::Server(e.into()))?,
        expires_at: now + state.settings().tokens.authorization_code_lifetime,
        used_at: None,
    };
    state.store().insert_code(&row).await?;
    state.store().touch_session(&s.session_id, now).await?;
    Ok(code)
}

/// What the user authorized, as the token endpoint will redeem it.
fn code_payload(state: &AppState, client: &Client, r: &AuthRequest, s: &SessionRow) -> CodePayload {
    let auth_time_claim = r
        .claims
        .as_ref()
        .and_then(|c| c.pointer("/id_token/auth_time"))
        .is_some();
    CodePayload {
        redirect_uri: r.target.redirect_uri.clone(),
        redirect_uri_sent: r.redirect_uri_sent,
        scope: r.scope.join(" "),
        nonce: r.nonce.clone(),
        code_challenge: r.code_challenge.clone(),
        user_id: s.user_id.clone(),
        subject: subject_for(state, client, &s.user_id),
        session_id: s.session_id.clone(),
        auth: AuthContext {
            auth_time: s.auth_time,
            acr: s.acr.clone(),
            amr: s.amr.clone(),
            include_auth_time: r.max_age.is_some()
                || client.metadata.require_auth_time
                || auth_time_claim,
            claims_request: r.claims.clone(),
        },
        resources: r.resources.clone(),
    }
}

/// The `sub` a client sees: the user id, or a pairwise identifier for the client's sector
/// (OpenID Connect Core §8.1).
pub fn subject_for(state: &AppState, client: &Client, user_id: &str) -> String {
    match client.sector_identifier() {
        Some(sector) if client.metadata.subject_type == "pairwise" => {
            state.master_key().pairwise_subject(&sector, user_id)
        }
        _ => user_id.to_string(),
    }
}

/// Ends an interaction with an error sent to the client.
pub async fn finish_with_error(
    state: &AppState,
    r: &AuthRequest,
    pending_id: Option<&str>,
    code: &str,
    description: &str,
) -> Response {
    if let Some(id) = pending_id
        && let Err(e) = state.store().delete_pending(id).await
    {
        tracing::warn!(error = %e, "could not delete a finished authorization request");
    }
    if let Some(device) = &r.device {
        return crate::oauth::device::deny(state, device, code).await;
    }
    error_response(state, &r.target, r.state.as_deref(), code, description)
}

fn fail(state: &AppState, r: &AuthRequest, f: Failure) -> Response {
    match f {
        Failure::Page(msg) => bad_request_page(msg),
        // A device request has nowhere to redirect: the error is shown.
        Failure::Redirect(_, desc) if r.device.is_some() => bad_request_page(&desc),
        Failure::Redirect(code, desc) => {
            error_response(state, &r.target, r.state.as_deref(), code, &desc)
        }
    }
}

/// An error sent to the client's redirect URI, with `state` and `iss`.
fn error_response(
    state: &AppState,
    target: &Target,
    st: Option<&str>,
    code: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", code), ("error_description", description)];
    if let Some(s) = st {
        params.push(("state", s));
    }
    params.push(("iss", state.issuer()));
    target.respond(&params)
}

/// Adds a `Set-Cookie` to a response.
pub fn with_cookie(mut resp: Response, cookie: HeaderValue) -> Response {
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    resp
}
