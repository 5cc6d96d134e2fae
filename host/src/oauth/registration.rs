//! Client registration core shared by `tessera client create` (and later the RFC 7591
//! endpoint and the admin API): validate metadata, generate the id and secret, store.

use crate::clock::UnixTime;
use crate::crypto::secrets::{MasterKey, random_token, random_uuid, sha256_b64};
use crate::model::{Client, ClientMetadata};
use crate::store::{ScopeRow, Store, StoreError};
use serde_json::{Value, json};

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// RFC 7591 `invalid_client_metadata`.
    #[error("invalid_client_metadata: {0}")]
    InvalidMetadata(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A stored client and, once, its plain secret.
#[derive(Debug)]
pub struct Registered {
    /// The client as stored.
    pub client: Client,
    /// The secret; shown once, never stored in clear.
    pub secret: Option<String>,
}

impl Registered {
    /// The RFC 7591 §3.2.1 response: metadata plus `client_id`, `client_secret` (once),
    /// `client_id_issued_at` and `client_secret_expires_at` (0 = never).
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(&self.client.metadata).unwrap_or_else(|_| json!({}));
        v["client_id"] = json!(self.client.client_id);
        v["client_id_issued_at"] = json!(self.client.created_at);
        if let Some(s) = &self.secret {
            v["client_secret"] = json!(s);
            v["client_secret_expires_at"] = json!(self.client.metadata.expires_at.unwrap_or(0));
        }
        v
    }
}

/// Registers a client from its metadata. Scopes it names that do not exist are created as
/// OAuth scopes (no claims).
pub async fn register(
    store: &Store,
    master: &MasterKey,
    metadata: ClientMetadata,
    now: UnixTime,
) -> Result<Registered, RegistrationError> {
    metadata
        .validate()
        .map_err(RegistrationError::InvalidMetadata)?;
    // 256 bits from the CSPRNG; stored as SHA-256 (docs/adr/0003-credential-storage.md).
    let secret = metadata.uses_secret().then(|| random_token(32));
    let client = Client {
        client_id: random_uuid(),
        secret_hash: secret.as_deref().map(|s| sha256_b64(s.as_bytes())),
        secret_sealed: secret
            .as_deref()
            .filter(|_| metadata.token_endpoint_auth_method == "client_secret_jwt")
            .map(|s| master.seal(s.as_bytes())),
        metadata,
        created_at: now,
    };
    let scopes: Vec<ScopeRow> = client
        .scopes()
        .map(|scope| ScopeRow::new(scope, "oauth"))
        .collect();
    store.insert_client(&client, &scopes, now).await?;
    Ok(Registered { client, secret })
}
