//! End-users: a username, an argon2id password hash, and the OpenID standard claims
//! (OpenID Connect Core §5.1).

use crate::clock::UnixTime;
use serde_json::{Map, Value};

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
    /// Creation time.
    pub created_at: UnixTime,
}

/// Checks a set of claims: only standard claim names, each with its JSON type.
pub fn validate_claims(claims: &Map<String, Value>) -> Result<(), String> {
    for (k, v) in claims {
        match STANDARD_CLAIMS.iter().find(|(n, _)| n == k) {
            Some((_, t)) if t.accepts(v) => {}
            Some((_, t)) => return Err(format!("{k}: must be a {t:?}").to_lowercase()),
            None => return Err(format!("{k}: not an OpenID standard claim")),
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
