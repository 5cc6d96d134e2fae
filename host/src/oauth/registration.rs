//! Client registration: the core shared by `tessera client create` and the RFC 7591 endpoint
//! (validate metadata, generate the id and secret, store), the registration and client
//! configuration endpoints (`endpoint`, RFC 7591 and RFC 7592), and what a client registering
//! itself may ask for (`policy`).

pub mod endpoint;
pub mod policy;

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
    /// RFC 7591 `invalid_redirect_uri`.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistrationError {
    /// A message of [`ClientMetadata::validate`]: about the redirect URIs or the rest.
    pub fn from_validation(message: String) -> Self {
        if message.starts_with("redirect_uris") {
            RegistrationError::InvalidRedirectUri(message)
        } else {
            RegistrationError::InvalidMetadata(message)
        }
    }
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
    let reg = new_client(master, metadata, now);
    let scopes: Vec<ScopeRow> = reg
        .client
        .scopes()
        .map(|scope| ScopeRow::new(scope, "oauth"))
        .collect();
    store.insert_client(&reg.client, &scopes, now).await?;
    Ok(reg)
}

/// A new client (not stored yet) with a fresh id and, when its auth method needs one, a secret.
fn new_client(master: &MasterKey, metadata: ClientMetadata, now: UnixTime) -> Registered {
    let mut client = Client {
        client_id: random_uuid(),
        secret_hash: None,
        secret_sealed: None,
        metadata,
        created_at: now,
    };
    let secret = set_new_secret(&mut client, master);
    Registered { client, secret }
}

/// Makes `client`'s credentials fit its (new) auth method: none without a secret; a new secret
/// (returned) when it needs one it does not have, or a sealed one for `client_secret_jwt`;
/// otherwise it keeps its secret.
pub fn credentials_for(client: &mut Client, master: &MasterKey) -> Option<String> {
    let m = &client.metadata;
    let jwt = m.token_endpoint_auth_method == "client_secret_jwt";
    if !m.uses_secret() {
        client.secret_hash = None;
        client.secret_sealed = None;
        None
    } else if client.secret_hash.is_none() || (jwt && client.secret_sealed.is_none()) {
        set_new_secret(client, master)
    } else {
        if !jwt {
            client.secret_sealed = None;
        }
        None
    }
}

/// Gives `client` a new secret if its auth method uses one (none otherwise) and returns it.
/// 256 bits from the CSPRNG; stored as SHA-256 (docs/adr/0003-credential-storage.md), and sealed
/// too for `client_secret_jwt`, whose HMAC needs the secret itself.
pub fn set_new_secret(client: &mut Client, master: &MasterKey) -> Option<String> {
    let secret = client.metadata.uses_secret().then(|| random_token(32));
    set_secret(client, master, secret.as_deref());
    secret
}

/// Stores `secret` as `client`'s (hashed, and sealed for `client_secret_jwt`); `None` removes it.
pub fn set_secret(client: &mut Client, master: &MasterKey, secret: Option<&str>) {
    client.secret_hash = secret.map(|s| sha256_b64(s.as_bytes()));
    client.secret_sealed = secret
        .filter(|_| client.metadata.token_endpoint_auth_method == "client_secret_jwt")
        .map(|s| master.seal(s.as_bytes()));
}
