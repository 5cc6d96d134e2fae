//! Host-side bindings generated from `wit/` (the `host-bindings` world: every hook export plus
//! the `host` import) for the current WIT version and, in [`v0_1`], the previous one; and the
//! conversions between our model and the WIT records.

wasmtime::component::bindgen!({
    world: "host-bindings",
    path: "../wit",
    exports: { default: async },
    // `fetch` waits for the outbound request; the other host functions answer at once.
    imports: { "tessera:plugin/host.fetch": async },
    // `tessera plugin test` reads contexts from JSON and prints answers as JSON; plugins built
    // for 0.1 are called through the same JSON shapes (see `engine::adapt`).
    additional_derives: [serde::Serialize, serde::Deserialize],
});

/// Bindings of `tessera:plugin@0.1.0` (frozen in `wit/v0.1/`), for plugins built against it.
/// Its records are those of the current version minus what 0.2.0 added, so the host adapts a
/// call by converting the context and the answer through their JSON form.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "host-bindings",
        path: "../wit/v0.1",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub use self::tessera::plugin::host;
pub use self::tessera::plugin::types;
pub use exports::tessera::plugin::{
    dynamic_scope, end_session, introspection, revoke_token, update_token,
};

use crate::model::{Client, Grant, TokenKind, TokenRecord};

/// The WIT package version the host implements (it also loads plugins of the previous minor,
/// 0.1).
pub const WIT_VERSION: &str = "0.2.0";

impl types::Client {
    /// The plugin's view of `client` (never its secret).
    pub fn from_model(client: &Client) -> Self {
        Self {
            client_id: client.client_id.clone(),
            client_name: client.metadata.client_name.clone(),
            client_type: if client.is_public() {
                "public".into()
            } else {
                "confidential".into()
            },
            grant_types: client.metadata.grant_types.clone(),
            scopes: client.scopes().map(str::to_string).collect(),
        }
    }
}

impl types::Grant {
    /// The plugin's view of `grant`.
    pub fn from_model(grant: &Grant) -> Self {
        Self {
            grant_id: grant.grant_id.clone(),
            grant_type: grant.grant_type.clone(),
            client_id: grant.client_id.clone(),
            scopes: split_scope(&grant.scope),
            subject: match (&grant.subject, &grant.user_id) {
                (Some(sub), Some(user_id)) => Some(types::Subject {
                    sub: sub.clone(),
                    user_id: user_id.clone(),
                }),
                _ => None,
            },
        }
    }
}

impl types::Token {
    /// The plugin's view of a stored token.
    pub fn from_model(token: &TokenRecord) -> Self {
        Self {
            kind: match token.kind {
                TokenKind::AccessToken => types::TokenKind::AccessToken,
                TokenKind::RefreshToken => types::TokenKind::RefreshToken,
            },
            format: if token.format == "jwt" {
                types::TokenFormat::Jwt
            } else {
                types::TokenFormat::Reference
            },
            client_id: token.client_id.clone(),
            subject: token.subject.clone(),
            scopes: split_scope(&token.scope),
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            revoked: token.revoked_at.is_some(),
        }
    }
}

fn split_scope(scope: &str) -> Vec<String> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
