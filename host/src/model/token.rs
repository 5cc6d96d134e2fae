//! Grants and the tokens issued under them. Revoking a grant revokes every token it holds.

use crate::clock::UnixTime;
use serde::{Deserialize, Serialize};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

impl TokenKind {
    /// The RFC 7009 `token_type_hint` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AccessToken => "access_token",
            TokenKind::RefreshToken => "refresh_token",
        }
    }

    /// Parses the RFC 7009 spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access_token" => Some(TokenKind::AccessToken),
            "refresh_token" => Some(TokenKind::RefreshToken),
            _ => None,
        }
    }
}

/// One authorization: a client's (and for user flows, a subject's) consent to scopes.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Random id.
    pub grant_id: String,
    /// The client the grant was issued to.
    pub client_id: String,
    /// The end-user, when there is one.
    pub subject: Option<String>,
    /// `client_credentials`, `authorization_code`, ...
    pub grant_type: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Issue time.
    pub created_at: UnixTime,
    /// The user's internal id, for user grants (`subject` is what the client sees, which
    /// differs for pairwise clients).
    pub user_id: Option<String>,
    /// The browser session the grant came from.
    pub session_id: Option<String>,
    /// How the user authenticated, for the ID tokens of later refreshes.
    pub auth: Option<AuthContext>,
    /// RFC 8707 resources the user authorized; token requests may only narrow them. Empty for
    /// grants without a user and for user grants that named none.
    pub resources: Vec<String>,
}

impl Grant {
    /// A grant with no user (`client_credentials`).
    pub fn for_client(
        grant_id: String,
        client_id: String,
        grant_type: &str,
        scope: String,
        now: UnixTime,
    ) -> Self {
        Self {
            grant_id,
            client_id,
            subject: None,
            grant_type: grant_type.into(),
            scope,
            created_at: now,
            user_id: None,
            session_id: None,
            auth: None,
            resources: Vec::new(),
        }
    }
}

/// The authentication behind a user grant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthContext {
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The ACR satisfied.
    pub acr: String,
    /// Authentication methods used (RFC 8176 values).
    pub amr: Vec<String>,
    /// Whether the ID token must carry `auth_time` (requested, `max_age`, or client policy).
    #[serde(default)]
    pub include_auth_time: bool,
    /// The OpenID `claims` request parameter, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_request: Option<serde_json::Value>,
}

/// A stored token: found by the SHA-256 of the token string (JWT or reference alike).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// base64url SHA-256 of the token as sent to the client.
    pub token_hash: String,
    /// The grant the token belongs to.
    pub grant_id: String,
    /// Access or refresh token.
    pub kind: TokenKind,
    /// `jwt` or `reference`.
    pub format: String,
    /// The JWT id, for JWT access tokens.
    pub jti: Option<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// The end-user, when there is one.
    pub subject: Option<String>,
    /// Scopes, space-separated.
    pub scope: String,
    /// Audiences.
    pub audience: Vec<String>,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
    /// When the token's grant was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
    /// When a refresh token was exchanged for a new one (rotation).
    pub consumed_at: Option<UnixTime>,
    /// Claims update-token plugins added to a reference access token (a JSON object), which
    /// introspection returns; JWTs carry theirs inside.
    pub claims: Option<String>,
    /// RFC 9449: the SHA-256 thumbprint (RFC 7638) of the DPoP key the token is bound to; only
    /// a proof signed with that key may use it.
    pub jkt: Option<String>,
}

impl TokenRecord {
    /// Whether the token is usable at `now`: not expired, not revoked, not rotated away.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.consumed_at.is_none() && now < self.expires_at
    }
}
