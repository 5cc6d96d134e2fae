//! Administration shared by the CLI, the admin REST API (`api`) and the web admin UI (`ui`):
//! clients, users, scopes, sessions, signing keys, the run-time configuration, plugins and the
//! audit log.

pub mod api;
pub mod audit;
pub mod clients;
pub mod config;
pub mod plugins;
pub mod scopes;
pub mod sessions;
pub mod transfer;
pub mod ui;
pub mod users;

use crate::crypto::secrets::sha256_b64;
use serde::Serialize;

/// `s` percent-encoded as one URL path segment or query value (an admin API path built from an
/// identifier).
pub fn path_segment(s: &str) -> String {
    /// Everything but RFC 3986's unreserved characters.
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, RESERVED).to_string()
}

/// The strong entity tag (RFC 9110 §8.8.3) of a resource's representation: a digest of its
/// JSON, so that any change to what an administrator sees changes the tag.
pub fn etag<T: Serialize>(representation: &T) -> String {
    let bytes = serde_json::to_vec(representation).unwrap_or_default();
    format!("\"{}\"", sha256_b64(&bytes))
}

/// Whether an `If-Match` header value (RFC 9110 §13.1.1) matches the current `etag`: `*`, or
/// one of its comma-separated tags compared strongly (a weak tag never matches).
pub fn if_match(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag)
}

/// The first administrator made by the first start on an empty database.
#[derive(Debug)]
pub struct FirstAdmin {
    /// Their username.
    pub username: String,
    /// The password generated for them, when none was given (show it once).
    pub generated_password: Option<String>,
}

/// What `tessera serve` does at every start: makes sure the admin UI's client exists, and on a
/// database without users makes the first administrator (`TESSERA_ADMIN_USERNAME`, default
/// `admin`; `TESSERA_ADMIN_PASSWORD`, or a generated password returned to be shown once).
/// Replicas starting together on an empty database make one administrator between them.
pub async fn bootstrap(
    state: &crate::server::AppState,
    username: Option<String>,
    password: Option<String>,
) -> anyhow::Result<Option<FirstAdmin>> {
    let store = state.store();
    ui::ensure_client(store, state.master_key(), state.issuer(), state.now()).await?;
    if store.has_users().await? {
        return Ok(None);
    }
    match users::init_admin_user(store, username, password, state.now()).await {
        Ok(Some((user, generated_password))) => Ok(Some(FirstAdmin {
            username: user.username,
            generated_password,
        })),
        Ok(None) | Err(users::UserError::Taken) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_keep_unreserved_characters() {
        assert_eq!(
            path_segment("billing-service_1.v~2"),
            "billing-service_1.v~2"
        );
        assert_eq!(path_segment("a/b c?d"), "a%2Fb%20c%3Fd");
    }

    #[test]
    fn if_match_compares_strongly() {
        let tag = etag(&serde_json::json!({"a": 1}));
        assert!(if_match(&tag, &tag));
        assert!(if_match("*", &tag));
        assert!(if_match(&format!("\"x\", {tag}"), &tag));
        assert!(!if_match(&format!("W/{tag}"), &tag));
        assert!(!if_match("\"other\"", &tag));
        assert_ne!(tag, etag(&serde_json::json!({"a": 2})));
    }
}
