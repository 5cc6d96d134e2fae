//! OpenID Provider / OAuth 2.0 Authorization Server metadata (OpenID Discovery 1.0, RFC 8414,
//! flag JANS_CONFIGURATION). It lists exactly what is implemented and enabled.

use crate::config::FeatureFlag;
use crate::crypto::jwt::{ASYMMETRIC_ALGS, HMAC_ALGS};
use crate::model::client::{AUTH_METHODS, IMPLEMENTED_GRANT_TYPES};
use crate::oauth::OAuthError;
use crate::oauth::redirect::ResponseMode;
use crate::server::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `GET /.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<AppState>) -> Result<Json<Value>, OAuthError> {
    state.require(FeatureFlag::JansConfiguration)?;
    Ok(Json(document(&state).await?))
}

/// Builds the metadata document from the current configuration.
pub async fn document(state: &AppState) -> Result<Value, OAuthError> {
    let s = state.settings();
    let urls = state.urls();
    let features = &s.features;
    let auth_signing: Vec<&str> = ASYMMETRIC_ALGS.iter().chain(HMAC_ALGS).copied().collect();
    let scopes = state.store().list_scopes().await?;
    let mut claims: Vec<&str> = vec![
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "sid",
        "at_hash",
    ];
    for sc in scopes.iter() {
        for c in &sc.claims {
            if !claims.contains(&c.as_str()) {
                claims.push(c);
            }
        }
    }
    let signing: Vec<&str> = state
        .keys()
        .load()
        .algorithms()
        .iter()
        .map(|a| a.name())
        .collect();
    let mut doc = json!({
        "issuer": s.issuer(),
        "authorization_endpoint": urls.authorization,
        "token_endpoint": urls.token,
        "jwks_uri": urls.jwks,
        "grant_types_supported": IMPLEMENTED_GRANT_TYPES
            .iter()
            .filter(|g| **g != crate::oauth::device::GRANT_TYPE || features.is_enabled(FeatureFlag::DeviceAuthz))
            .collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": auth_signing,
        // Spontaneous scopes are one client's values (a transaction id, ...), not the server's.
        "scopes_supported": scopes
            .iter()
            .filter(|sc| sc.scope_type != crate::model::ScopeType::Spontaneous.as_str())
            .map(|sc| sc.scope_id.as_str())
            .collect::<Vec<_>>(),
        "claims_supported": claims,
        "access_token_signing_alg_values_supported": signing,
        "id_token_signing_alg_values_supported": signing,
        "response_types_supported": ["code"],
        "response_modes_supported": ResponseMode::ALL,
        "subject_types_supported": ["public", "pairwise"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": s.acr.enabled,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        // RFC 9101: signed request objects by value and, from registered URIs, by reference.
        "request_parameter_supported": true,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "request_object_signing_alg_values_supported": ASYMMETRIC_ALGS,
        "authorization_response_iss_parameter_supported": true,
    });
    if features.is_enabled(FeatureFlag::Userinfo) {
        doc["userinfo_endpoint"] = json!(urls.userinfo);
    }
    if features.is_enabled(FeatureFlag::ClientInfo) {
        // Janssen's name; not a registered metadata name.
        doc["clientinfo_endpoint"] = json!(urls.clientinfo);
    }
    if features.is_enabled(FeatureFlag::IdGeneration) {
        // Janssen's name; GET {id_generation_endpoint}/{prefix}/{type}.
        doc["id_generation_endpoint"] = json!(urls.id_generation);
    }
    if crate::oauth::dpop::enabled(state) {
        doc["dpop_signing_alg_values_supported"] = json!(s.dpop.signing_alg_values_supported);
    }
    if features.is_enabled(FeatureFlag::DeviceAuthz) {
        doc["device_authorization_endpoint"] = json!(urls.device_authorization);
    }
    if features.is_enabled(FeatureFlag::Registration) {
        doc["registration_endpoint"] = json!(urls.registration);
    }
    if features.is_enabled(FeatureFlag::Par) {
        doc["pushed_authorization_request_endpoint"] = json!(urls.par);
        doc["require_pushed_authorization_requests"] =
            json!(s.authorize.require_pushed_authorization_requests);
    }
    if features.is_enabled(FeatureFlag::Introspection) {
        doc["introspection_endpoint"] = json!(urls.introspection);
        // Public clients may not introspect (RFC 7662 §4) unless the server says otherwise.
        let methods: Vec<&str> = AUTH_METHODS
            .iter()
            .copied()
            .filter(|m| *m != "none" || s.introspection.skip_authorization)
            .collect();
        doc["introspection_endpoint_auth_methods_supported"] = json!(methods);
        doc["introspection_endpoint_auth_signing_alg_values_supported"] = json!(auth_signing);
        // RFC 9701 §7: signed responses on request.
        doc["introspection_signing_alg_values_supported"] = json!(
            crate::crypto::SigningAlg::ALL
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
        );
    }
    if features.is_enabled(FeatureFlag::RevokeToken) {
        doc["revocation_endpoint"] = json!(urls.revocation);
        doc["revocation_endpoint_auth_methods_supported"] = json!(AUTH_METHODS);
        doc["revocation_endpoint_auth_signing_alg_values_supported"] = json!(auth_signing);
        doc["global_token_revocation_endpoint"] = json!(urls.global_token_revocation);
    }
    if features.is_enabled(FeatureFlag::EndSession) {
        doc["end_session_endpoint"] = json!(urls.end_session);
        doc["frontchannel_logout_supported"] = json!(true);
        doc["frontchannel_logout_session_supported"] = json!(true);
        doc["backchannel_logout_supported"] = json!(true);
        doc["backchannel_logout_session_supported"] = json!(true);
    }
    // Janssen's session endpoints (not registered metadata names).
    if features.is_enabled(FeatureFlag::StatusSession) {
        doc["session_status_endpoint"] = json!(urls.session_status);
    }
    if features.is_enabled(FeatureFlag::ActiveSession) {
        doc["active_session_endpoint"] = json!(urls.active_session);
    }
    if features.is_enabled(FeatureFlag::RevokeSession) {
        doc["session_revocation_endpoint"] = json!(urls.revoke_session);
    }
    if features.is_enabled(FeatureFlag::HealthCheck) {
        // Not a registered metadata name; Janssen publishes its health endpoint too.
        doc["health_endpoint"] = json!(urls.health);
    }
    Ok(doc)
}
