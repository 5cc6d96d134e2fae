//! What a client registering itself (RFC 7591) or replacing its registration (RFC 7592) may
//! ask for. The request's metadata is read as the CLI reads it and validated the same way; on
//! top of that:
//!
//! - what only an administrator may set ([`ADMIN_ONLY`]) is refused by name;
//! - scopes are the server's default scopes (seed 001's "Default scope"), plus any an
//!   administrator gave the client since;
//! - grant types are `registration.allowed_grant_types` (plus any an administrator gave);
//! - response types agree with the grant types (RFC 7591 §2.1), redirect URIs are present for
//!   the code flow and use safe schemes;
//! - a `sector_identifier_uri` is fetched through the outbound module and must list every
//!   redirect URI (OpenID Connect Registration §5).

use super::RegistrationError;
use crate::model::ClientMetadata;
use crate::oauth::ssa::Statement;
use crate::server::AppState;
use serde_json::{Map, Value};

/// Metadata only an administrator may set. A request that names one with a value other than
/// the client's current one (the default, when registering) is refused by name; the current
/// value is kept otherwise, so a client may send back what it read.
pub const ADMIN_ONLY: &[&str] = &[
    "trusted_client",
    "active",
    "expires_at",
    "scripts",
    "allow_spontaneous_scopes",
    "spontaneous_scopes",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "additional_audience",
    "resources",
    "run_introspection_script_before_jwt_creation",
    "persist_client_authorizations",
    "redirect_uris_regex",
    "rpt_claims_scripts",
    "tls_client_auth_subject_dn",
    "par_lifetime",
];

/// Request members that are not stored metadata: the client's identifier and secret (the
/// configuration endpoint checks them), and `software_statement` (verified by the endpoint
/// when SSA is on, and ignored otherwise, as RFC 7591 §3.1.1 allows).
const NOT_METADATA: &[&str] = &["client_id", "client_secret", "software_statement"];

/// Redirect URI schemes that run code or read files in the browser instead of reaching the
/// client; never registered.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob"];

/// The metadata to store for a registration request `body`; `current` is the client's stored
/// metadata when it replaces its registration, `None` when it registers; `statement` a verified
/// software statement, whose claims win over the request's (RFC 7591 §2.3).
pub async fn metadata_from_request(
    state: &AppState,
    mut body: Map<String, Value>,
    current: Option<&ClientMetadata>,
    statement: Option<&Statement>,
) -> Result<ClientMetadata, RegistrationError> {
    // A JSON null is an absent member.
    body.retain(|k, v| !v.is_null() && !NOT_METADATA.contains(&k.as_str()));
    let response_types_given = body.contains_key("response_types");
    let base = match current {
        Some(m) => serde_json::to_value(m),
        None => serde_json::to_value(default_metadata()?),
    }
    .map_err(|e| RegistrationError::InvalidMetadata(e.to_string()))?;
    for key in ADMIN_ONLY {
        let now = base.get(*key);
        match body.get(*key) {
            Some(v) if Some(v) != now && !(now.is_none() && is_empty(v)) => {
                return Err(RegistrationError::InvalidMetadata(format!(
                    "{key}: may only be set by an administrator"
                )));
            }
            _ => match now {
                Some(v) => body.insert((*key).to_string(), v.clone()),
                None => body.remove(*key),
            },
        };
    }
    if let Some(s) = statement {
        body.insert("software_id".into(), Value::String(s.software_id.clone()));
        if !s.grant_types.is_empty() {
            body.insert("grant_types".into(), serde_json::json!(s.grant_types));
        }
    }
    let mut m: ClientMetadata = serde_path_to_error::deserialize(Value::Object(body))
        .map_err(|e| RegistrationError::InvalidMetadata(format!("{}: {}", e.path(), e.inner())))?;
    // What a statement vouched for stays with the client, also when it replaces its metadata.
    if let Some(s) = statement {
        m.software_statement = Some(s.jwt.clone());
    } else if let Some(c) = current.filter(|c| c.software_statement.is_some()) {
        m.software_statement.clone_from(&c.software_statement);
        m.software_id.clone_from(&c.software_id);
    }
    if current.is_none() && state.settings().registration.client_lifetime > 0 {
        m.expires_at = Some(state.now() + state.settings().registration.client_lifetime);
    }
    if m.id_token_signed_response_alg.is_none() {
        // The server's algorithm, shown to the client (RFC 7591 §3.2.1: values it applied).
        m.id_token_signed_response_alg = Some(state.settings().tokens.id_token_signing_alg.clone());
    }
    scopes(state, &mut m, current).await?;
    grant_and_response_types(state, &mut m, current, statement, response_types_given)?;
    redirect_uris(&m)?;
    m.validate().map_err(RegistrationError::from_validation)?;
    sector_identifier(state, &m).await?;
    Ok(m)
}

/// The metadata of a client that set nothing.
fn default_metadata() -> Result<ClientMetadata, RegistrationError> {
    serde_json::from_value(Value::Object(Map::new()))
        .map_err(|e| RegistrationError::InvalidMetadata(e.to_string()))
}

/// An empty list or `false`: what an absent optional member means.
fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Bool(false)) || v.as_array().is_some_and(Vec::is_empty)
}

/// Requested scopes must be default scopes (or ones the client already has); none requested:
/// every default scope.
async fn scopes(
    state: &AppState,
    m: &mut ClientMetadata,
    current: Option<&ClientMetadata>,
) -> Result<(), RegistrationError> {
    let defaults: Vec<String> = state
        .store()
        .list_scopes()
        .await?
        .iter()
        .filter(|s| s.default_scope)
        .map(|s| s.scope_id.clone())
        .collect();
    let held = |s: &str| {
        current
            .and_then(|c| c.scope.as_deref())
            .is_some_and(|have| have.split(' ').any(|h| h == s))
    };
    let requested: Vec<&str> = m
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if requested.is_empty() {
        m.scope = (!defaults.is_empty()).then(|| defaults.join(" "));
        return Ok(());
    }
    if let Some(s) = requested
        .iter()
        .find(|s| !defaults.iter().any(|d| d == *s) && !held(s))
    {
        return Err(RegistrationError::InvalidMetadata(format!(
            "scope: {s:?} is not offered to dynamically registered clients"
        )));
    }
    Ok(())
}

/// Grant types from the allowed set; response types consistent with them (RFC 7591 §2.1),
/// `code` unless the client asked for none and uses no redirect-based grant.
fn grant_and_response_types(
    state: &AppState,
    m: &mut ClientMetadata,
    current: Option<&ClientMetadata>,
    statement: Option<&Statement>,
    response_types_given: bool,
) -> Result<(), RegistrationError> {
    let allowed = &state.settings().registration.allowed_grant_types;
    // Grant types an administrator gave the client, or vouched for in its statement.
    let held = |g: &str| {
        current.is_some_and(|c| c.grant_types.iter().any(|h| h == g))
            || statement.is_some_and(|s| s.grant_types.iter().any(|h| h == g))
    };
    if let Some(g) = m
        .grant_types
        .iter()
        .find(|g| !allowed.contains(g) && !held(g))
    {
        return Err(RegistrationError::InvalidMetadata(format!(
            "grant_types: {g:?} is not available to dynamically registered clients"
        )));
    }
    let code_flow = m.grant_types.iter().any(|g| g == "authorization_code");
    if !response_types_given {
        m.response_types = if code_flow {
            vec!["code".into()]
        } else {
            Vec::new()
        };
    }
    if let Some(rt) = m.response_types.iter().find(|rt| *rt != "code") {
        return Err(RegistrationError::InvalidMetadata(format!(
            "response_types: {rt:?} is not supported (code only)"
        )));
    }
    let code_response = !m.response_types.is_empty();
    if code_flow != code_response {
        return Err(RegistrationError::InvalidMetadata(
            "response_types: the code response type and the authorization_code grant go together (RFC 7591 §2.1)"
                .into(),
        ));
    }
    if m.token_endpoint_auth_method == "none"
        && m.grant_types.iter().any(|g| g == "client_credentials")
    {
        return Err(RegistrationError::InvalidMetadata(
            "grant_types: client_credentials needs client authentication (token_endpoint_auth_method none)"
                .into(),
        ));
    }
    Ok(())
}

/// The code flow needs redirect URIs; none may run code in the browser, and a web client's
/// are http(s) (a native app may use its own scheme, RFC 8252 §7.1).
fn redirect_uris(m: &ClientMetadata) -> Result<(), RegistrationError> {
    if m.grant_types.iter().any(|g| g == "authorization_code") && m.redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris: required for the authorization_code grant".into(),
        ));
    }
    for uri in &m.redirect_uris {
        let Ok(u) = url::Url::parse(uri) else {
            continue; // `validate` names it.
        };
        let web_ok = matches!(u.scheme(), "https" | "http") && u.host().is_some();
        if FORBIDDEN_SCHEMES.contains(&u.scheme()) || (m.application_type == "web" && !web_ok) {
            return Err(RegistrationError::InvalidRedirectUri(format!(
                "redirect_uris: {uri:?} has a scheme this client may not use"
            )));
        }
    }
    Ok(())
}

/// OpenID Connect Registration §5: the `sector_identifier_uri` (https) answers a JSON array that
/// holds every redirect URI.
async fn sector_identifier(state: &AppState, m: &ClientMetadata) -> Result<(), RegistrationError> {
    let Some(uri) = &m.sector_identifier_uri else {
        return Ok(());
    };
    let bad =
        |why: &str| RegistrationError::InvalidMetadata(format!("sector_identifier_uri: {why}"));
    let url = url::Url::parse(uri).map_err(|_| bad("not a URL"))?;
    let http_ok = url.scheme() == "http"
        && state
            .settings()
            .registration
            .allow_http_sector_identifier_uri;
    if url.scheme() != "https" && !http_ok {
        return Err(bad("must be an https URL"));
    }
    let body = state.outbound().get(&url, state.now()).await.map_err(|e| {
        tracing::info!(sector_identifier_uri = uri, error = %e, "fetching a sector identifier failed");
        bad("could not be fetched")
    })?;
    let listed: Vec<String> =
        serde_json::from_slice(&body).map_err(|_| bad("is not a JSON array of URIs"))?;
    match m.redirect_uris.iter().find(|r| !listed.contains(r)) {
        Some(r) => Err(bad(&format!("does not list the redirect URI {r:?}"))),
        None => Ok(()),
    }
}
