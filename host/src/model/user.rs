//! End-users: a username, an argon2id password hash, and the OpenID standard claims
//! (OpenID Connect Core §5.1).

use crate::clock::UnixTime;
use serde_json::{Map, Value};

/// Claims only the host sets: the ones the protocol and the host's own checks rest on. No plugin
/// may set or remove them, and no user attribute or scope claim may bear their names.
pub const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "nonce",
    "at_hash",
    "c_hash",
    "sid",
    "auth_time",
    "acr",
    "amr",
    "azp",
    "cnf",
];

/// The standard claims a user record may hold, with the JSON type each must have.
pub const STANDARD_CLAIMS: &[(&str, ClaimType)] = &[
    ("name", ClaimType::String),
    ("given_name", ClaimType::String),
    ("family_name", ClaimType::String),
    ("middle_name", ClaimType::String),
    ("nickname", ClaimType::String),
    ("preferred_username", ClaimType::String),
    ("profile", ClaimType::String),
    ("picture", ClaimType::String),
    ("website", ClaimType::String),
    ("email", ClaimType::String),
    ("email_verified", ClaimType::Bool),
    ("gender", ClaimType::String),
    ("birthdate", ClaimType::String),
    ("zoneinfo", ClaimType::String),
    ("locale", ClaimType::String),
    ("phone_number", ClaimType::String),
    ("phone_number_verified", ClaimType::Bool),
    ("address", ClaimType::Object),
    ("updated_at", ClaimType::Number),
];

/// JSON type of a standard claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimType {
    /// A string.
    String,
    /// `true` / `false`.
    Bool,
    /// A JSON object (the address claim).
    Object,
    /// A number (seconds since the epoch).
    Number,
}

impl ClaimType {
    fn accepts(self, v: &Value) -> bool {
        match self {
            ClaimType::String => v.is_string(),
            ClaimType::Bool => v.is_boolean(),
            ClaimType::Object => v.is_object(),
            ClaimType::Number => v.is_i64() || v.is_u64(),
        }
    }
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    /// Random, stable, never reassigned: the public `sub`.
    pub user_id: String,
    /// The login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Standard claims.
    pub claims: Map<String, Value>,
    /// Whether the user may log in.
    pub active: bool,
    /// Roles ([`ROLES`]); `admin` makes the user an administrator.
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: UnixTime,
}

/// The administrator role: the admin API accepts a token issued for a user only while the user
/// is active and has it.
pub const ADMIN_ROLE: &str = "admin";

/// Every role a user may have.
pub const ROLES: &[&str] = &[ADMIN_ROLE];

impl User {
    /// Whether the user is an active administrator.
    pub fn is_admin(&self) -> bool {
        self.active && self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// Longest serialised value of one user attribute, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 8 * 1024;

/// Whether `name` may name a user attribute or a scope's claim: 1 to 64 characters, a letter or
/// `_` first, then letters, digits, `_`, `-`, `.`, `:`; never a claim only the host sets.
pub fn is_claim_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        && !PROTECTED_CLAIMS.contains(&name)
}

/// Checks a user's attributes: OpenID standard claims with their JSON types, and custom
/// attributes (any JSON value but `null`, at most [`MAX_ATTRIBUTE_BYTES`]) under names
/// [`is_claim_name`] accepts.
pub fn validate_claims(claims: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in claims {
        match STANDARD_CLAIMS.iter().find(|(n, _)| n == k) {
            Some((_, t)) if t.accepts(v) => {}
            Some((_, t)) => return Err(format!("{k}: must be a {t:?}").to_lowercase()),
            None if !is_claim_name(k) => {
                return Err(format!(
                    "{k}: not a valid attribute name (1 to 64 of A-Z a-z 0-9 _ - . :, a letter \
                     or _ first, not a claim the server sets)"
                ));
            }
            None if v.is_null() => return Err(format!("{k}: must not be null")),
            None if v.to_string().len() > MAX_ATTRIBUTE_BYTES => {
                return Err(format!("{k}: longer than {MAX_ATTRIBUTE_BYTES} bytes"));
            }
            None => {}
        }
    }
    Ok(())
}

/// A valid username: 1 to 256 characters, no control characters or surrounding spaces.
pub fn validate_username(u: &str) -> Result<(), String> {
    if u.is_empty() || u.len() > 256 || u.trim() != u || u.chars().any(char::is_control) {
        return Err(
            "username: 1 to 256 characters, no control characters or surrounding spaces".into(),
        );
    }
    Ok(())
}

/// The attribute a request names a user by, with Janssen's names (`uid`, `mail`, `inum`) and
/// ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKey {
    /// The login name (`uid`, `username`).
    Username,
    /// The `email` claim (`mail`, `email`).
    Email,
    /// The user id, which is also the public `sub` (`inum`, `user_id`, `sub`).
    UserId,
}

impl UserKey {
    /// Parses a criterion name; `None` for one we do not search by.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "uid" | "username" => Some(UserKey::Username),
            "mail" | "email" => Some(UserKey::Email),
            "inum" | "user_id" | "sub" => Some(UserKey::UserId),
            _ => None,
        }
    }
}
