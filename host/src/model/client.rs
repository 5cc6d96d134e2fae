//! The client model: every field of Janssen's client form (seed 001), under RFC 7591 / OpenID
//! Connect Registration names where those exist and Tessera's own names otherwise.

use crate::clock::UnixTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Token endpoint authentication methods we implement.
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];

/// Grant types a client may declare (the ones we implement today are enforced at the token
/// endpoint; the others are stored for the flows that will use them).
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:openid:params:grant-type:ciba",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:uma-ticket",
];

/// Grant types the token endpoint implements (discovery's `grant_types_supported`).
pub const IMPLEMENTED_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// SHA-256 of the client secret, for clients that have one.
    pub secret_hash: Option<String>,
    /// The secret sealed with the master key, only for `client_secret_jwt` (HMAC needs the secret).
    pub secret_sealed: Option<String>,
    /// Everything else.
    pub metadata: ClientMetadata,
    /// Registration time.
    pub created_at: UnixTime,
}

impl Client {
    /// Whether the client may be used at `now`: active and not expired.
    pub fn is_usable(&self, now: UnixTime) -> bool {
        self.metadata.active && self.metadata.expires_at.is_none_or(|t| now < t)
    }

    /// Whether the client is public: it has no credential (`token_endpoint_auth_method` `none`)
    /// and is identified by its `client_id` alone.
    pub fn is_public(&self) -> bool {
        self.metadata.token_endpoint_auth_method == "none"
    }

    /// Whether the client is allowed to request `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// Whether `scope` matches one of the client's spontaneous-scope patterns (and the client
    /// allows spontaneous scopes at all). Whether it may be granted that way also depends on the
    /// scopes that exist (see `oauth::scope::resolve`).
    pub fn matches_spontaneous(&self, scope: &str) -> bool {
        self.metadata.allow_spontaneous_scopes
            && self
                .metadata
                .spontaneous_scopes
                .iter()
                .any(|p| super::pattern::full_match(p, scope))
    }

    /// Scopes the client is allowed to request.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.metadata
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// The pairwise sector (OpenID Connect Core §8.1): the host of the sector identifier URI,
    /// else of the redirect URIs (registration makes sure they share one host).
    pub fn sector_identifier(&self) -> Option<String> {
        self.metadata
            .sector_identifier_uri
            .iter()
            .chain(self.metadata.redirect_uris.iter())
            .find_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_string))
    }

    /// Whether the client declared `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.metadata.grant_types.iter().any(|g| g == grant_type)
    }
}

fn default_true() -> bool {
    true
}
fn default_auth_method() -> String {
    "client_secret_basic".into()
}
fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}
fn default_application_type() -> String {
    "web".into()
}
fn default_subject_type() -> String {
    "public".into()
}

/// Client metadata: the fields of seed 001, stored whole.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientMetadata {
    /// Name shown to the end-user ("Client name").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Description ("Description").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// "Authn method token endpoint".
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// JWS algorithm the client signs its assertions with (`client_secret_jwt`/`private_key_jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// "Subject type": `public` or `pairwise`.
    #[serde(default = "default_subject_type")]
    pub subject_type: String,
    /// "id_token subject type".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_subject_type: Option<String>,
    /// "Sector Identifier URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    /// "Grants".
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// "Response types".
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    /// "Active".
    #[serde(default = "default_true")]
    pub active: bool,
    /// "Application type": `web` or `native`.
    #[serde(default = "default_application_type")]
    pub application_type: String,
    /// "Redirect URIs".
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// "Redirect Regex".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris_regex: Option<String>,
    /// "Scopes", space-separated (RFC 7591 `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// "Access token type": JWT (`true`) or reference (`false`).
    #[serde(default)]
    pub access_token_as_jwt: bool,
    /// JWS algorithm for this client's JWT access tokens (server default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_signing_alg: Option<String>,
    /// JWS algorithm of signed introspection responses for this client (RFC 9701 §6; RS256
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_signed_response_alg: Option<String>,
    /// "Include claims in id_token".
    #[serde(default)]
    pub include_claims_in_id_token: bool,
    /// "Add auth_time to id_token".
    #[serde(default)]
    pub require_auth_time: bool,
    /// "Run Introspection Script Before AccessToken As Jwt Creation And Include Claims".
    #[serde(default)]
    pub run_introspection_script_before_jwt_creation: bool,
    /// "Token binding confirmation method for id_token".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_token_binding_cnf: Option<String>,
    /// "Access token additional audiences".
    #[serde(default)]
    pub additional_audience: Vec<String>,
    /// "Access token lifetime", seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<i64>,
    /// "Refresh token lifetime", seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<i64>,
    /// "Default max authn age", seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    /// "Front channel logout URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// "Front channel logout session required".
    #[serde(default)]
    pub frontchannel_logout_session_required: bool,
    /// "Post logout redirect URI".
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// "Back channel logout URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// "Back channel logout session required".
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// "Client URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// "Policy URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// "Logo URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// "Terms of service URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// "Contacts".
    #[serde(default)]
    pub contacts: Vec<String>,
    /// "Authorized JS origins".
    #[serde(default)]
    pub authorized_origins: Vec<String>,
    /// "Software id".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// "Software version".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// "Software statement" (the whole signed JWT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// "CIBA: Token delivery method" (`poll`, `ping`, `push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<String>,
    /// "CIBA: Client notification endpoint".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// "CIBA: Require user code param".
    #[serde(default)]
    pub backchannel_user_code_parameter: bool,
    /// "PAR: Require lifetime", seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub par_lifetime: Option<i64>,
    /// "PAR: Require PAR".
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// "UMA: RPT token type": JWT (`true`) or reference.
    #[serde(default)]
    pub rpt_as_jwt: bool,
    /// "UMA: Claims redirect URI".
    #[serde(default)]
    pub claims_redirect_uris: Vec<String>,
    /// "UMA: RPT Modification Script".
    #[serde(default)]
    pub rpt_claims_scripts: Vec<String>,
    /// "Client JWKS URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// "Client JWKS" (a JWK Set object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// JWS algorithm for this client's ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// "Persist Authorizations".
    #[serde(default = "default_true")]
    pub persist_client_authorizations: bool,
    /// Require PKCE (S256) for this client even though it is confidential (RFC 9700 §2.1.1;
    /// public clients always need it).
    #[serde(default)]
    pub require_pkce: bool,
    /// RFC 9449 §5.2: the client always uses DPoP; token requests without a proof are refused.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// RFC 8707 resources (absolute URIs) this client may name in `client_credentials`
    /// requests. Empty: only the default audience (the client itself and its additional
    /// audiences).
    #[serde(default)]
    pub resources: Vec<String>,
    /// "Trusted client": the user is not asked for consent (unless `prompt=consent`).
    #[serde(default)]
    pub trusted_client: bool,
    /// "Allow spontaneous scopes".
    #[serde(default)]
    pub allow_spontaneous_scopes: bool,
    /// "Spontaneous scope validation regex".
    #[serde(default)]
    pub spontaneous_scopes: Vec<String>,
    /// "Initiate Login URI".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiate_login_uri: Option<String>,
    /// "Request URIs": the only request objects by reference (RFC 9101 `request_uri`) the
    /// server fetches for this client.
    #[serde(default)]
    pub request_uris: Vec<String>,
    /// The JWS algorithm this client's request objects must use (OpenID Connect Registration
    /// `request_object_signing_alg`); any asymmetric one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// "Default ACR".
    #[serde(default)]
    pub default_acr_values: Vec<String>,
    /// "Allowed ACRs".
    #[serde(default)]
    pub authorized_acr_values: Vec<String>,
    /// "Default prompt=login".
    #[serde(default)]
    pub default_prompt_login: bool,
    /// "TLS Subject DN".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// "Is Expirable Client?": the time the client stops working, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
    /// "Client Scripts": plugins bound to this client.
    #[serde(default)]
    pub scripts: Vec<String>,
}

impl ClientMetadata {
    /// Checks the metadata a client registration may not get wrong; the message names the field
    /// (RFC 7591 `invalid_client_metadata` / `invalid_redirect_uri`).
    pub fn validate(&self) -> Result<(), String> {
        if !AUTH_METHODS.contains(&self.token_endpoint_auth_method.as_str()) {
            return Err(format!(
                "token_endpoint_auth_method: unsupported {:?}",
                self.token_endpoint_auth_method
            ));
        }
        if let Some(alg) = &self.token_endpoint_auth_signing_alg {
            let ok = match self.token_endpoint_auth_method.as_str() {
                "client_secret_jwt" => crate::crypto::jwt::HMAC_ALGS.contains(&alg.as_str()),
                "private_key_jwt" => crate::crypto::jwt::ASYMMETRIC_ALGS.contains(&alg.as_str()),
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "token_endpoint_auth_signing_alg: {alg:?} does not fit the auth method"
                ));
            }
        }
        if self.token_endpoint_auth_method == "private_key_jwt"
            && self.jwks.is_none()
            && self.jwks_uri.is_none()
        {
            return Err("jwks: private_key_jwt needs jwks or jwks_uri".into());
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err("jwks: jwks and jwks_uri must not both be present (RFC 7591 §2)".into());
        }
        if let Some(jwks) = &self.jwks {
            serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(jwks.clone())
                .map_err(|e| format!("jwks: not a JWK Set: {e}"))?;
        }
        if let Some(uri) = &self.jwks_uri {
            url::Url::parse(uri).map_err(|e| format!("jwks_uri: {e}"))?;
        }
        if let Some(alg) = &self.request_object_signing_alg
            && !crate::crypto::jwt::ASYMMETRIC_ALGS.contains(&alg.as_str())
        {
            return Err(format!(
                "request_object_signing_alg: {alg:?} is not an asymmetric JWS algorithm"
            ));
        }
        for uri in &self.request_uris {
            let u = url::Url::parse(uri).map_err(|e| format!("request_uris: {uri:?}: {e}"))?;
            if !matches!(u.scheme(), "https" | "http") || u.host().is_none() {
                return Err(format!("request_uris: {uri:?} must be an https URL"));
            }
        }
        for g in &self.grant_types {
            if !GRANT_TYPES.contains(&g.as_str()) {
                return Err(format!("grant_types: unsupported {g:?}"));
            }
        }
        if !matches!(self.subject_type.as_str(), "public" | "pairwise") {
            return Err("subject_type: must be public or pairwise".into());
        }
        if !matches!(self.application_type.as_str(), "web" | "native") {
            return Err("application_type: must be web or native".into());
        }
        for uri in &self.redirect_uris {
            let u = url::Url::parse(uri).map_err(|e| format!("redirect_uris: {uri:?}: {e}"))?;
            if u.fragment().is_some() {
                return Err(format!(
                    "redirect_uris: {uri:?} must not have a fragment (RFC 6749 §3.1.2)"
                ));
            }
        }
        for r in &self.resources {
            let u = url::Url::parse(r).map_err(|e| format!("resources: {r:?}: {e}"))?;
            if u.fragment().is_some() {
                return Err(format!(
                    "resources: {r:?} must not have a fragment (RFC 8707 §2)"
                ));
            }
        }
        self.validate_browser_flows()?;
        self.validate_logout()?;
        for (name, v) in [
            ("access_token_lifetime", self.access_token_lifetime),
            ("refresh_token_lifetime", self.refresh_token_lifetime),
        ] {
            if v.is_some_and(|v| v <= 0) {
                return Err(format!("{name}: must be positive"));
            }
        }
        for (name, alg) in [
            ("access_token_signing_alg", &self.access_token_signing_alg),
            (
                "introspection_signed_response_alg",
                &self.introspection_signed_response_alg,
            ),
        ] {
            if let Some(alg) = alg
                && crate::crypto::SigningAlg::parse(alg).is_none()
            {
                return Err(format!("{name}: unsupported {alg:?}"));
            }
        }
        if let Some(scope) = &self.scope
            && !scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .all(crate::model::scope::is_valid_scope_token)
        {
            return Err("scope: contains characters RFC 6749 §3.3 forbids".into());
        }
        if self.spontaneous_scopes.len() > 50 {
            return Err("spontaneous_scopes: at most 50 patterns".into());
        }
        for p in &self.spontaneous_scopes {
            super::pattern::compile(p).map_err(|e| format!("spontaneous_scopes: {p:?}: {e}"))?;
        }
        Ok(())
    }

    /// Logout URIs (RP-Initiated, Front-Channel and Back-Channel Logout 1.0): absolute URLs
    /// without a fragment; the server's own requests (back channel) and iframes (front channel)
    /// need http(s), a native app's post-logout redirect may use its own scheme.
    fn validate_logout(&self) -> Result<(), String> {
        let uris = self
            .post_logout_redirect_uris
            .iter()
            .map(|u| ("post_logout_redirect_uris", u))
            .chain(
                self.frontchannel_logout_uri
                    .iter()
                    .map(|u| ("frontchannel_logout_uri", u)),
            )
            .chain(
                self.backchannel_logout_uri
                    .iter()
                    .map(|u| ("backchannel_logout_uri", u)),
            );
        for (name, uri) in uris {
            let u = url::Url::parse(uri).map_err(|e| format!("{name}: {uri:?}: {e}"))?;
            if name != "post_logout_redirect_uris"
                && (!matches!(u.scheme(), "http" | "https") || u.host().is_none())
            {
                return Err(format!("{name}: {uri:?} must be an http(s) URL"));
            }
            if u.fragment().is_some() {
                return Err(format!("{name}: {uri:?} must not have a fragment"));
            }
        }
        Ok(())
    }

    /// The fields the authorization code flow depends on.
    fn validate_browser_flows(&self) -> Result<(), String> {
        if let Some(re) = &self.redirect_uris_regex {
            super::pattern::compile(re).map_err(|e| format!("redirect_uris_regex: {e}"))?;
        }
        if let Some(alg) = &self.id_token_signed_response_alg
            && crate::crypto::SigningAlg::parse(alg).is_none()
        {
            return Err(format!(
                "id_token_signed_response_alg: unsupported {alg:?} (RS256, ES256, EdDSA)"
            ));
        }
        if let Some(uri) = &self.sector_identifier_uri {
            let u = url::Url::parse(uri).map_err(|e| format!("sector_identifier_uri: {e}"))?;
            // Dynamic registration fetches it and requires https (see `oauth::registration`).
            if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
                return Err("sector_identifier_uri: must be an https URL".into());
            }
        } else if self.subject_type == "pairwise" {
            // OpenID Connect Core §8.1: several redirect hosts need a sector identifier URI.
            let mut hosts: Vec<String> = self
                .redirect_uris
                .iter()
                .filter_map(|u| url::Url::parse(u).ok()?.host_str().map(str::to_string))
                .collect();
            hosts.sort();
            hosts.dedup();
            if hosts.len() > 1 {
                return Err(
                    "sector_identifier_uri: required for pairwise clients whose redirect URIs have several hosts"
                        .into(),
                );
            }
        }
        for (name, list) in [
            ("default_acr_values", &self.default_acr_values),
            ("authorized_acr_values", &self.authorized_acr_values),
        ] {
            if list
                .iter()
                .any(|a| a.is_empty() || a.contains(char::is_whitespace))
            {
                return Err(format!("{name}: values must be non-empty without spaces"));
            }
        }
        if self.default_max_age.is_some_and(|m| m < 0) {
            return Err("default_max_age: must not be negative".into());
        }
        Ok(())
    }

    /// Whether this client authenticates with a shared secret.
    pub fn uses_secret(&self) -> bool {
        matches!(
            self.token_endpoint_auth_method.as_str(),
            "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
        )
    }
}
