//! Seed 001's Clients and Scopes screens. The client form groups its fields as seed 001 lists
//! them, each with seed 001's description as help text. Saving sends the whole client back
//! (`PUT` with the tag it was read with), so fields the form does not show keep their values.

use super::screens::lines;
use super::{Api, Form, Notice, Posted, Session, failed, screen};
use crate::admin::path_segment;
use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use serde_json::{Map, Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list).post(create))
        .route("/admin/clients/new", get(new))
        .route("/admin/clients/{id}", get(show).post(update))
        .route("/admin/clients/{id}/delete", post(delete))
        .route("/admin/clients/{id}/secret", post(regenerate))
        .route("/admin/scopes", get(scopes).post(create_scope))
        .route("/admin/scopes/new", get(new_scope))
        .route("/admin/scopes/{id}", get(show_scope).post(update_scope))
        .route("/admin/scopes/{id}/delete", post(delete_scope))
}

/// How a field is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One line of text; empty means absent.
    Text,
    /// A whole number; empty means absent.
    Number,
    /// A checkbox.
    Flag,
    /// One value per line.
    List,
    /// One of the given values.
    Choice(&'static [&'static str]),
    /// A JSON document.
    Json,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "number",
            Kind::Flag => "flag",
            Kind::List => "list",
            Kind::Choice(_) => "choice",
            Kind::Json => "json",
        }
    }
}

/// One form field: the client metadata member, its label and help (seed 001's wording), and
/// how it is edited.
struct Field {
    name: &'static str,
    label: &'static str,
    kind: Kind,
    help: &'static str,
}

const fn f(name: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field {
        name,
        label,
        kind,
        help,
    }
}

/// Seed 001's client fields in its groups (the ones Tessera supports).
const GROUPS: &[(&str, &[Field])] = &[
    (
        "Basic",
        &[
            f(
                "client_name",
                "Client name",
                Kind::Text,
                "Name of the Client to be presented to the End-User.",
            ),
            f(
                "description",
                "Description",
                Kind::Text,
                "Description of the client.",
            ),
            f(
                "token_endpoint_auth_method",
                "Authn method token endpoint",
                Kind::Choice(&[
                    "client_secret_basic",
                    "client_secret_post",
                    "client_secret_jwt",
                    "private_key_jwt",
                    "tls_client_auth",
                    "self_signed_tls_client_auth",
                    "none",
                ]),
                "Requested Client Authentication method for the Token Endpoint.",
            ),
            f(
                "subject_type",
                "Subject type",
                Kind::Choice(&["public", "pairwise"]),
                "Subject type requested for responses to this Client. Valid types include pairwise and public.",
            ),
            f(
                "sector_identifier_uri",
                "Sector Identifier URI",
                Kind::Text,
                "URL using the https scheme to be used in calculating Pseudonymous Identifiers by the OP. The URL references a file with a single JSON array of redirect_uri values.",
            ),
            f(
                "grant_types",
                "Grants",
                Kind::List,
                "List of the OAuth 2.0 Grant Types that the Client is declaring that it will restrict itself to using.",
            ),
            f(
                "response_types",
                "Response types",
                Kind::List,
                "List of the OAuth 2.0 response_type values that the Client is declaring that it will restrict itself to using. If omitted, the default is that the Client will use only the code Response Type.",
            ),
            f(
                "active",
                "Active",
                Kind::Flag,
                "Specifies whether the client is enabled.",
            ),
            f(
                "application_type",
                "Application type",
                Kind::Choice(&["web", "native"]),
                "Kind of the application. The default, if omitted, is web.",
            ),
            f(
                "redirect_uris",
                "Redirect URIs",
                Kind::List,
                "List of Redirection URI values used by the Client. One of these registered Redirection URI values MUST exactly match the redirect_uri parameter value used in each Authorization Request.",
            ),
            f(
                "redirect_uris_regex",
                "Redirect Regex",
                Kind::Text,
                "When this field is set then redirect-URI must match with regex.",
            ),
            f(
                "scope",
                "Scopes",
                Kind::Text,
                "List of scopes granted to the client (space-separated).",
            ),
        ],
    ),
    (
        "Tokens",
        &[
            f(
                "access_token_as_jwt",
                "Access token as JWT",
                Kind::Flag,
                "Type of the access token (JWT or reference) generated by the client.",
            ),
            f(
                "include_claims_in_id_token",
                "Include claims in id_token",
                Kind::Flag,
                "The claims will be included in id_token if this field is enabled.",
            ),
            f(
                "require_auth_time",
                "Add auth_time to id_token",
                Kind::Flag,
                "When enabled then the auth_time claim is required in id_token.",
            ),
            f(
                "run_introspection_script_before_jwt_creation",
                "Run Introspection Script Before AccessToken As Jwt Creation And Include Claims",
                Kind::Flag,
                "When this field is enabled then Introspection Script will run before access token generation.",
            ),
            f(
                "id_token_token_binding_cnf",
                "Token binding confirmation method for id_token",
                Kind::Text,
                "Specifies the JWT Confirmation Method member name (e.g. tbh) that the Relying Party expects when receiving Token Bound ID Tokens.",
            ),
            f(
                "additional_audience",
                "Access token additional audiences",
                Kind::List,
                "The client audiences.",
            ),
            f(
                "access_token_lifetime",
                "Access token lifetime",
                Kind::Number,
                "The client-specific access-token expiration (seconds).",
            ),
            f(
                "refresh_token_lifetime",
                "Refresh token lifetime",
                Kind::Number,
                "The client-specific refresh-token expiration (seconds).",
            ),
            f(
                "default_max_age",
                "Default max authn age",
                Kind::Number,
                "The default maximum authentication age (seconds).",
            ),
        ],
    ),
    (
        "Logout",
        &[
            f(
                "frontchannel_logout_uri",
                "Front channel logout URI",
                Kind::Text,
                "Relying Party (RP) URL that will cause the RP to log itself out when rendered in an iframe by the OP.",
            ),
            f(
                "post_logout_redirect_uris",
                "Post logout redirect URIs",
                Kind::List,
                "The URLs supplied by the RP to request that the user be redirected to this location after a logout has been performed.",
            ),
            f(
                "backchannel_logout_uri",
                "Back channel logout URI",
                Kind::Text,
                "Relying Party (RP) URL that will cause the RP to log itself out when sent a Logout Token by the OP.",
            ),
            f(
                "backchannel_logout_session_required",
                "Back channel logout session required",
                Kind::Flag,
                "Whether the RP requires that a sid (session ID) Claim be included in the Logout Token.",
            ),
            f(
                "frontchannel_logout_session_required",
                "Front channel logout session required",
                Kind::Flag,
                "Whether the RP requires that iss (issuer) and sid (session ID) query parameters be included.",
            ),
        ],
    ),
    (
        "Software info",
        &[
            f(
                "client_uri",
                "Client URI",
                Kind::Text,
                "URL of the home page of the Client.",
            ),
            f(
                "policy_uri",
                "Policy URI",
                Kind::Text,
                "URL that the Relying Party Client provides to the End-User to read about how the profile data will be used.",
            ),
            f(
                "logo_uri",
                "Logo URI",
                Kind::Text,
                "URL that references a logo for the Client application.",
            ),
            f(
                "tos_uri",
                "Terms of service URI",
                Kind::Text,
                "URL that the Relying Party Client provides to the End-User to read about the Relying Party's terms of service.",
            ),
            f(
                "contacts",
                "Contacts",
                Kind::List,
                "OpenID connect client contacts list.",
            ),
            f(
                "authorized_origins",
                "Authorized JS origins",
                Kind::List,
                "Specifies authorized JavaScript origins.",
            ),
            f(
                "software_id",
                "Software id",
                Kind::Text,
                "A unique identifier string (UUID) assigned by the client developer or software publisher.",
            ),
            f(
                "software_version",
                "Software version",
                Kind::Text,
                "A version identifier string for the client software identified by 'software_id'.",
            ),
            f(
                "software_statement",
                "Software statement",
                Kind::Text,
                "A software statement containing client metadata values about the client software as claims (a signed JWT).",
            ),
        ],
    ),
    (
        "CIBA / PAR / UMA",
        &[
            f(
                "backchannel_token_delivery_mode",
                "CIBA: Token delivery method",
                Kind::Choice(&["", "poll", "ping", "push"]),
                "Specifies how backchannel token will be delivered.",
            ),
            f(
                "backchannel_client_notification_endpoint",
                "CIBA: Client notification endpoint",
                Kind::Text,
                "Where the OP notifies the client after an out-of-band authentication.",
            ),
            f(
                "backchannel_user_code_parameter",
                "CIBA: Require user code param",
                Kind::Flag,
                "Whether the client supports the user_code parameter.",
            ),
            f(
                "par_lifetime",
                "PAR: Request lifetime",
                Kind::Number,
                "The lifetime of a Pushed Authorisation Request (seconds).",
            ),
            f(
                "require_pushed_authorization_requests",
                "PAR: Require PAR",
                Kind::Flag,
                "Is Pushed Authorisation Request (PAR) required?",
            ),
            f(
                "rpt_as_jwt",
                "UMA: RPT as JWT",
                Kind::Flag,
                "Type of RPT token (JWT or reference).",
            ),
            f(
                "claims_redirect_uris",
                "UMA: Claims redirect URIs",
                Kind::List,
                "The Claims Redirect URIs to which the client wishes the authorization server to direct the requesting party's user agent after completing its interaction.",
            ),
        ],
    ),
    (
        "Encryption / signing",
        &[
            f(
                "jwks_uri",
                "Client JWKS URI",
                Kind::Text,
                "URL for the Client's JSON Web Key Set (JWK) document containing the key(s) that are used for signing requests to the OP.",
            ),
            f(
                "jwks",
                "Client JWKS",
                Kind::Json,
                "A JSON Web Key Set: the client's keys, as a JSON document.",
            ),
            f(
                "id_token_signed_response_alg",
                "id_token signing algorithm",
                Kind::Text,
                "JWS algorithm for the ID tokens issued to this client.",
            ),
            f(
                "id_token_subject_type",
                "id_token subject type",
                Kind::Text,
                "The subject identifiers in ID tokens.",
            ),
            f(
                "require_pkce",
                "Require PKCE",
                Kind::Flag,
                "Authorization requests must carry a PKCE code challenge.",
            ),
            f(
                "dpop_bound_access_tokens",
                "DPoP-bound access tokens",
                Kind::Flag,
                "Access tokens are always bound to a DPoP key (RFC 9449).",
            ),
        ],
    ),
    (
        "Advanced",
        &[
            f(
                "persist_client_authorizations",
                "Persist Authorizations",
                Kind::Flag,
                "Specifies if the client authorization details are to be persisted. The default value is true.",
            ),
            f(
                "trusted_client",
                "Trusted client",
                Kind::Flag,
                "A first-party client: no consent page.",
            ),
            f(
                "allow_spontaneous_scopes",
                "Allow spontaneous scopes",
                Kind::Flag,
                "Whether to allow spontaneous scopes for the client.",
            ),
            f(
                "spontaneous_scopes",
                "Spontaneous scope validation regex",
                Kind::List,
                "List of spontaneous scope regular expressions.",
            ),
            f(
                "initiate_login_uri",
                "Initiate Login URI",
                Kind::Text,
                "The URI using the https scheme that the authorization server can call to initiate a login at the client.",
            ),
            f(
                "request_uris",
                "Request URIs",
                Kind::List,
                "A list of request_uri values that are pre-registered by the Client for use at the Authorization Server.",
            ),
            f(
                "default_acr_values",
                "Default ACR",
                Kind::List,
                "Default requested Authentication Context Class Reference values that the Authorization Server must use for processing requests from the Client.",
            ),
            f(
                "authorized_acr_values",
                "Allowed ACRs",
                Kind::List,
                "Allowed ACRs.",
            ),
            f(
                "default_prompt_login",
                "Default prompt=login",
                Kind::Flag,
                "If enabled then sets prompt=login to the authorization request, which forces the user to sign in again.",
            ),
            f(
                "tls_client_auth_subject_dn",
                "TLS Subject DN",
                Kind::Text,
                "String representation of the expected subject distinguished name of the certificate, which the OAuth client will use in mutual TLS authentication.",
            ),
            f(
                "expires_at",
                "Expires at",
                Kind::Number,
                "Is Expirable Client? When set (Unix time), the client stops working then.",
            ),
            f(
                "scripts",
                "Client scripts",
                Kind::List,
                "The plugins bound to this client (by name).",
            ),
        ],
    ),
];

/// The form's groups, each field with its current value as the form shows it.
fn form_groups(client: &Value) -> Vec<Value> {
    GROUPS
        .iter()
        .map(|(group, fields)| {
            let fields: Vec<Value> = fields
                .iter()
                .map(|fd| {
                    let v = &client[fd.name];
                    let shown = match (fd.kind, v) {
                        (_, Value::Null) => String::new(),
                        (Kind::List, Value::Array(items)) => items
                            .iter()
                            .map(|i| {
                                i.as_str()
                                    .map(String::from)
                                    .unwrap_or_else(|| i.to_string())
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                        (Kind::Json, v) => serde_json::to_string_pretty(v).unwrap_or_default(),
                        (_, Value::String(s)) => s.clone(),
                        (_, v) => v.to_string(),
                    };
                    let options: &[&str] = match fd.kind {
                        Kind::Choice(o) => o,
                        _ => &[],
                    };
                    json!({
                        "name": fd.name, "label": fd.label, "kind": fd.kind.name(), "help": fd.help,
                        "value": shown, "checked": v.as_bool().unwrap_or(false), "options": options,
                    })
                })
                .collect();
            json!({"name": group, "fields": fields})
        })
        .collect()
}

/// `base` with the form's values over it; a value that cannot be read is named.
fn from_form(mut base: Map<String, Value>, form: &Form) -> Result<Value, String> {
    for (_, fields) in GROUPS {
        for fd in *fields {
            let text = form.text(fd.name);
            let value = match fd.kind {
                Kind::Flag => Some(Value::Bool(form.checked_box(fd.name))),
                _ if text.is_empty() => None,
                Kind::Text | Kind::Choice(_) => Some(Value::String(text.into())),
                Kind::Number => Some(
                    text.parse::<i64>()
                        .map(Value::from)
                        .map_err(|_| format!("{}: a whole number", fd.label))?,
                ),
                Kind::List => Some(json!(lines(text))),
                Kind::Json => Some(
                    serde_json::from_str(text)
                        .map_err(|e| format!("{}: not JSON ({e})", fd.label))?,
                ),
            };
            match value {
                Some(v) => base.insert(fd.name.into(), v),
                None => base.remove(fd.name),
            };
        }
    }
    Ok(Value::Object(base))
}

/// `GET /admin/clients`.
async fn list(State(state): State<AppState>, session: Session) -> Response {
    render_list(&state, &session, Notice::default()).await
}

async fn render_list(state: &AppState, session: &Session, notice: Notice) -> Response {
    let list = Api::new(state, session).get("/clients?limit=500").await;
    if !list.ok() {
        return failed(session, &list);
    }
    screen(
        session,
        "admin/clients.html",
        "Clients",
        "clients",
        notice,
        context! { clients => list.body["items"].clone(), total => list.body["total"].clone() },
    )
}

fn render_form(
    session: &Session,
    client: &Value,
    etag: &str,
    is_new: bool,
    secret: Option<&str>,
    notice: Notice,
) -> Response {
    screen(
        session,
        "admin/client.html",
        if is_new { "New client" } else { "Client" },
        "clients",
        notice,
        context! {
            client_id => client["client_id"].as_str().unwrap_or(""),
            groups => form_groups(client),
            etag, is_new, secret,
        },
    )
}

/// `GET /admin/clients/new`: the form with the defaults.
async fn new(session: Session) -> Response {
    let defaults = json!({
        "active": true, "persist_client_authorizations": true, "grant_types": ["authorization_code"],
        "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic",
        "subject_type": "public", "application_type": "web",
    });
    render_form(&session, &defaults, "", true, None, Notice::default())
}

/// `POST /admin/clients`: creates a client (the administrator may choose `client_id` and
/// `client_secret`); its secret is shown once.
async fn create(State(state): State<AppState>, Posted { session, form }: Posted) -> Response {
    let mut base = Map::new();
    for field in ["client_id", "client_secret"] {
        if !form.text(field).is_empty() {
            base.insert(field.into(), form.text(field).into());
        }
    }
    let input = match from_form(base, &form) {
        Ok(v) => v,
        Err(e) => return render_form(&session, &json!({}), "", true, None, Notice::error(e)),
    };
    let reply = Api::new(&state, &session)
        .send_json(Method::POST, "/clients", &input, None)
        .await;
    if !reply.ok() {
        return render_form(
            &session,
            &input,
            "",
            true,
            None,
            Notice::error(reply.problem()),
        );
    }
    let id = reply.body["client_id"].as_str().unwrap_or("");
    let secret = reply.body["client_secret"].as_str();
    render_form(
        &session,
        &reply.body,
        &reply.etag,
        false,
        secret,
        Notice::ok(format!("Client {id} created.")),
    )
}

/// `GET /admin/clients/{id}`.
async fn show(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    let reply = Api::new(&state, &session)
        .get(&format!("/clients/{}", path_segment(&id)))
        .await;
    if !reply.ok() {
        return failed(&session, &reply);
    }
    render_form(
        &session,
        &reply.body,
        &reply.etag,
        false,
        None,
        Notice::default(),
    )
}

/// `POST /admin/clients/{id}`: saves the form over the client as read (`If-Match`: the tag it
/// was read with, so a change by another administrator meanwhile is refused, not overwritten).
async fn update(
    State(state): State<AppState>,

    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let api = Api::new(&state, &session);
    let path = format!("/clients/{}", path_segment(&id));
    let current = api.get(&path).await;
    if !current.ok() {
        return failed(&session, &current);
    }
    let Value::Object(base) = current.body.clone() else {
        return failed(&session, &current);
    };
    let input = match from_form(base, &form) {
        Ok(v) => v,
        Err(e) => {
            return render_form(
                &session,
                &current.body,
                form.text("etag"),
                false,
                None,
                Notice::error(e),
            );
        }
    };
    let reply = api
        .send_json(Method::PUT, &path, &input, Some(form.text("etag")))
        .await;
    if !reply.ok() {
        return render_form(
            &session,
            &input,
            form.text("etag"),
            false,
            None,
            Notice::error(reply.problem()),
        );
    }
    render_form(
        &session,
        &reply.body,
        &reply.etag,
        false,
        reply.body["client_secret"].as_str(),
        Notice::ok("Saved."),
    )
}

/// `POST /admin/clients/{id}/delete`.
async fn delete(
    State(state): State<AppState>,

    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/clients/{}", path_segment(&id)),
            None,
            Some(form.text("etag")),
        )
        .await;
    render_list(
        &state,
        &session,
        Notice::of(&reply, format!("Client {id} deleted.")),
    )
    .await
}

/// `POST /admin/clients/{id}/secret`: a new secret, shown once.
async fn regenerate(
    State(state): State<AppState>,

    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let api = Api::new(&state, &session);
    let reply = api
        .call(
            Method::POST,
            &format!("/clients/{}/secret", path_segment(&id)),
            None,
            Some(form.text("etag")),
        )
        .await;
    let current = api.get(&format!("/clients/{}", path_segment(&id))).await;
    if !current.ok() {
        return failed(&session, &current);
    }
    render_form(
        &session,
        &current.body,
        &current.etag,
        false,
        reply.body["client_secret"].as_str(),
        Notice::of(&reply, "New secret made; the old one no longer works."),
    )
}

/// `GET /admin/scopes`.
async fn scopes(State(state): State<AppState>, session: Session) -> Response {
    render_scopes(&state, &session, Notice::default()).await
}

async fn render_scopes(state: &AppState, session: &Session, notice: Notice) -> Response {
    let list = Api::new(state, session).get("/scopes?limit=500").await;
    if !list.ok() {
        return failed(session, &list);
    }
    screen(
        session,
        "admin/scopes.html",
        "Scopes",
        "scopes",
        notice,
        context! { scopes => list.body["items"].clone() },
    )
}

fn render_scope(
    session: &Session,
    scope: &Value,
    etag: &str,
    is_new: bool,
    notice: Notice,
) -> Response {
    let claims = scope["claims"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    // UMA and spontaneous scopes are not edited here (seed 001).
    let read_only = matches!(scope["scope_type"].as_str(), Some("uma" | "spontaneous"));
    screen(
        session,
        "admin/scope.html",
        if is_new { "New scope" } else { "Scope" },
        "scopes",
        notice,
        context! { scope => scope.clone(), claims, etag, is_new, read_only },
    )
}

/// `GET /admin/scopes/new`.
async fn new_scope(session: Session) -> Response {
    render_scope(
        &session,
        &json!({"scope_type": "oauth"}),
        "",
        true,
        Notice::default(),
    )
}

fn scope_input(form: &Form, with_identity: bool) -> Value {
    let mut v = json!({
        "description": form.text("description"),
        "claims": lines(form.text("claims")),
        "default_scope": form.checked_box("default_scope"),
    });
    if with_identity {
        v["id"] = form.text("id").into();
        v["scope_type"] = form.text("scope_type").into();
    }
    v
}

/// `POST /admin/scopes`.
async fn create_scope(State(state): State<AppState>, Posted { session, form }: Posted) -> Response {
    let input = scope_input(&form, true);
    let reply = Api::new(&state, &session)
        .send_json(Method::POST, "/scopes", &input, None)
        .await;
    if !reply.ok() {
        return render_scope(&session, &input, "", true, Notice::error(reply.problem()));
    }
    render_scope(
        &session,
        &reply.body,
        &reply.etag,
        false,
        Notice::ok("Scope created."),
    )
}

/// `GET /admin/scopes/{id}`.
async fn show_scope(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let reply = Api::new(&state, &session)
        .get(&format!("/scopes/{}", path_segment(&id)))
        .await;
    if !reply.ok() {
        return failed(&session, &reply);
    }
    render_scope(&session, &reply.body, &reply.etag, false, Notice::default())
}

/// `POST /admin/scopes/{id}`.
async fn update_scope(
    State(state): State<AppState>,

    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let api = Api::new(&state, &session);
    let path = format!("/scopes/{}", path_segment(&id));
    let reply = api
        .send_json(
            Method::PUT,
            &path,
            &scope_input(&form, false),
            Some(form.text("etag")),
        )
        .await;
    if !reply.ok() {
        let current = api.get(&path).await;
        return render_scope(
            &session,
            &current.body,
            form.text("etag"),
            false,
            Notice::error(reply.problem()),
        );
    }
    render_scope(
        &session,
        &reply.body,
        &reply.etag,
        false,
        Notice::ok("Saved."),
    )
}

/// `POST /admin/scopes/{id}/delete`.
async fn delete_scope(
    State(state): State<AppState>,

    Path(id): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/scopes/{}", path_segment(&id)),
            None,
            Some(form.text("etag")),
        )
        .await;
    render_scopes(
        &state,
        &session,
        Notice::of(&reply, format!("Scope {id} deleted.")),
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_form_round_trips_a_client_and_keeps_unshown_fields() {
        let client = json!({
            "client_id": "c1", "client_name": "App", "redirect_uris": ["https://a/cb", "https://b/cb"],
            "active": true, "access_token_lifetime": 600, "jwks": {"keys": []},
            "request_object_signing_alg": "ES256",
        });
        let mut fields = vec![("csrf".to_string(), "x".to_string())];
        for g in form_groups(&client) {
            for fd in g["fields"].as_array().unwrap() {
                let name = fd["name"].as_str().unwrap().to_string();
                match fd["kind"].as_str().unwrap() {
                    "flag" if fd["checked"] == true => fields.push((name, "on".into())),
                    "flag" => {}
                    _ => fields.push((name, fd["value"].as_str().unwrap().to_string())),
                }
            }
        }
        let Value::Object(base) = client.clone() else {
            unreachable!()
        };
        let out = from_form(base, &Form(fields)).unwrap();
        assert_eq!(
            out["redirect_uris"],
            json!(["https://a/cb", "https://b/cb"])
        );
        assert_eq!(out["access_token_lifetime"], 600);
        assert_eq!(out["jwks"], json!({"keys": []}));
        assert_eq!(out["active"], true);
        assert_eq!(out["require_pkce"], false);
        assert_eq!(out["request_object_signing_alg"], "ES256");
        assert!(out.get("client_uri").is_none());
    }

    #[test]
    fn a_bad_number_is_named() {
        let form = Form(vec![("access_token_lifetime".into(), "soon".into())]);
        let err = from_form(Map::new(), &form).unwrap_err();
        assert!(err.starts_with("Access token lifetime"), "{err}");
    }
}
