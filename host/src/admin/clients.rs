//! Client administration (seed 001's Clients screen): create with every field of the client
//! form (the administrator may choose `client_id` and `client_secret`, for configuration as
//! code), replace or patch under an entity tag so two administrators never lose each other's
//! changes, regenerate the secret, delete. A field the model does not know is refused by name,
//! never dropped. Secrets are shown once, when made, and stored hashed.

use crate::clock::UnixTime;
use crate::crypto::secrets::{MasterKey, random_uuid};
use crate::model::{Client, ClientMetadata};
use crate::oauth::registration::{Registered, credentials_for, set_new_secret, set_secret};
use crate::store::{ScopeRow, Store, StoreError};
use serde::Serialize;
use serde_json::{Map, Value};

/// Why a client change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The input is not acceptable; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A client with this id exists.
    #[error("client_id: a client {0:?} exists already")]
    Exists(String),
    /// No client has this id.
    #[error("no client {0:?}")]
    NotFound(String),
    /// The client changed since the administrator read it (its entity tag moved).
    #[error("the client changed since it was read; read it again and reapply the change")]
    Stale,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Longest administrator-chosen `client_id`.
const MAX_CLIENT_ID: usize = 200;
/// Shortest and longest administrator-chosen `client_secret`.
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=512;

/// The administrator's view of a client: its metadata with its identifier and registration
/// time, never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    /// The client identifier.
    pub client_id: String,
    /// When the client was registered (seconds since the epoch).
    pub client_id_issued_at: UnixTime,
    /// Every other field of the client form.
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl ClientView {
    /// The view of `c`.
    pub fn of(c: &Client) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_id_issued_at: c.created_at,
            metadata: c.metadata.clone(),
        }
    }

    /// The view's entity tag.
    pub fn etag(&self) -> String {
        super::etag(self)
    }
}

/// Fields of the view an administrator cannot change.
const READ_ONLY: &[&str] = &["client_id", "client_id_issued_at"];

/// Creates a client from `input`: client metadata, plus optional `client_id` and `client_secret`
/// chosen by the administrator. The secret (chosen or generated) is in the result, once.
pub async fn create(
    store: &Store,
    master: &MasterKey,
    input: Value,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let mut input = object(input)?;
    let client_id = match input.remove("client_id") {
        None | Some(Value::Null) => random_uuid(),
        Some(Value::String(id)) if is_client_id(&id) => id,
        Some(_) => {
            return Err(ClientError::Invalid(format!(
                "client_id: 1 to {MAX_CLIENT_ID} of A-Z a-z 0-9 . _ ~ - :"
            )));
        }
    };
    let chosen_secret = match input.remove("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_secret(&s) => Some(s),
        Some(_) => {
            return Err(ClientError::Invalid(format!(
                "client_secret: {} to {} printable ASCII characters, no spaces",
                SECRET_LEN.start(),
                SECRET_LEN.end()
            )));
        }
    };
    let metadata = metadata(input)?;
    let mut client = Client {
        client_id,
        secret_hash: None,
        secret_sealed: None,
        metadata,
        created_at: now,
    };
    let secret = match chosen_secret {
        Some(s) if !client.metadata.uses_secret() => {
            drop(s);
            return Err(ClientError::Invalid(format!(
                "client_secret: token_endpoint_auth_method {} uses no secret",
                client.metadata.token_endpoint_auth_method
            )));
        }
        Some(s) => {
            set_secret(&mut client, master, Some(&s));
            Some(s)
        }
        None => set_new_secret(&mut client, master),
    };
    match store
        .insert_client(&client, &new_scopes(&client), now)
        .await
    {
        Ok(()) => Ok(Registered { client, secret }),
        Err(StoreError::Conflict) => Err(ClientError::Exists(client.client_id)),
        Err(e) => Err(e.into()),
    }
}

/// A client and the entity tag of its view, with the stored metadata text that a conditional
/// update compares against.
pub struct Current {
    /// The client.
    pub client: Client,
    /// Its view's entity tag.
    pub etag: String,
    stored: String,
}

/// Reads a client for an update.
pub async fn current(store: &Store, client_id: &str) -> Result<Current, ClientError> {
    let (client, stored) = store
        .find_client_stored(client_id)
        .await?
        .ok_or_else(|| ClientError::NotFound(client_id.into()))?;
    Ok(Current {
        etag: ClientView::of(&client).etag(),
        client,
        stored,
    })
}

/// Replaces the metadata of `current` with the full view `input` (read-only fields may be
/// sent back unchanged; absent fields take their defaults). A new auth method that needs a
/// secret the client lacks gets one, returned once; one that needs none drops it.
pub async fn replace(
    store: &Store,
    master: &MasterKey,
    current: Current,
    input: Value,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let mut input = object(input)?;
    for field in READ_ONLY {
        match input.remove(*field) {
            None => {}
            Some(v) if v == read_only_value(&current.client, field) => {}
            Some(_) => return Err(ClientError::Invalid(format!("{field}: cannot be changed"))),
        }
    }
    if input.contains_key("client_secret") {
        return Err(ClientError::Invalid(
            "client_secret: not part of an update; regenerate the secret instead".into(),
        ));
    }
    let mut client = Client {
        metadata: metadata(input)?,
        ..current.client
    };
    let secret = credentials_for(&mut client, master);
    if !store
        .replace_client_if(&client, &current.stored, &new_scopes(&client), now)
        .await?
    {
        return Err(ClientError::Stale);
    }
    Ok(Registered { client, secret })
}

/// Applies an RFC 6902 JSON Patch to the view of `current`, then replaces as [`replace`] does.
pub async fn patch(
    store: &Store,
    master: &MasterKey,
    current: Current,
    patch: Value,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let patched = apply_patch(&ClientView::of(&current.client), patch)?;
    replace(store, master, current, patched, now).await
}

/// Applies an RFC 6902 JSON Patch document to `view`'s JSON.
pub fn apply_patch<T: Serialize>(view: &T, patch: Value) -> Result<Value, ClientError> {
    let patch: json_patch::Patch = serde_json::from_value(patch)
        .map_err(|e| ClientError::Invalid(format!("the JSON Patch is malformed: {e}")))?;
    let mut doc = serde_json::to_value(view).map_err(|e| ClientError::Invalid(e.to_string()))?;
    json_patch::patch(&mut doc, &patch)
        .map_err(|e| ClientError::Invalid(format!("the JSON Patch does not apply: {e}")))?;
    Ok(doc)
}

/// Gives `current` a new generated secret, returned once.
pub async fn regenerate_secret(
    store: &Store,
    master: &MasterKey,
    current: Current,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    let mut client = current.client;
    if !client.metadata.uses_secret() {
        return Err(ClientError::Invalid(format!(
            "token_endpoint_auth_method {} uses no secret",
            client.metadata.token_endpoint_auth_method
        )));
    }
    let secret = set_new_secret(&mut client, master);
    if !store
        .replace_client_if(&client, &current.stored, &[], now)
        .await?
    {
        return Err(ClientError::Stale);
    }
    Ok(Registered { client, secret })
}

/// The admin client's identifier (`tessera admin init`).
pub const ADMIN_CLIENT_ID: &str = "tessera-admin";

/// Creates the admin client: client_credentials with every admin API scope, its secret
/// `secret` or a generated one. With `rotate`, gives the existing admin client a new generated
/// secret instead.
pub async fn init_admin_client(
    store: &Store,
    master: &MasterKey,
    rotate: bool,
    secret: Option<String>,
    now: UnixTime,
) -> Result<Registered, ClientError> {
    if rotate {
        let current = current(store, ADMIN_CLIENT_ID).await?;
        return regenerate_secret(store, master, current, now).await;
    }
    let input = serde_json::json!({
        "client_id": ADMIN_CLIENT_ID,
        "client_secret": secret,
        "client_name": "Tessera administration",
        "description": "Calls the admin API (made by `tessera admin init`).",
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": crate::admin::api::auth::all_scopes().join(" "),
    });
    create(store, master, input, now).await.map_err(|e| match e {
        ClientError::Exists(_) => ClientError::Invalid(format!(
            "the admin client {ADMIN_CLIENT_ID:?} exists already; `tessera admin init --rotate` \
             gives it a new secret"
        )),
        e => e,
    })
}

/// Deletes a client; every token it holds stops being active at once.
pub async fn delete(store: &Store, client_id: &str, now: UnixTime) -> Result<(), ClientError> {
    if store.delete_client(client_id, now).await? {
        Ok(())
    } else {
        Err(ClientError::NotFound(client_id.into()))
    }
}

fn object(input: Value) -> Result<Map<String, Value>, ClientError> {
    match input {
        Value::Object(m) => Ok(m),
        _ => Err(ClientError::Invalid(
            "the body must be a JSON object".into(),
        )),
    }
}

/// A client's view (`client_id` and metadata, no registration time) from an administrator's
/// JSON, with every default filled in as storing it would: comparable with a stored client's
/// view.
pub fn normalized(input: Value) -> Result<Value, ClientError> {
    let mut input = object(input)?;
    let client_id = input.remove("client_id").unwrap_or(Value::Null);
    let mut view = object(
        serde_json::to_value(metadata(input)?).map_err(|e| ClientError::Invalid(e.to_string()))?,
    )?;
    view.insert("client_id".into(), client_id);
    Ok(Value::Object(view))
}

/// Client metadata from an administrator's JSON: every field known (an unknown one is named in
/// the error), then checked as for any registration.
fn metadata(input: Map<String, Value>) -> Result<ClientMetadata, ClientError> {
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let de = serde_ignored::Deserializer::new(Value::Object(input), &mut note);
    let parsed: Result<ClientMetadata, _> = serde_path_to_error::deserialize(de);
    if !unknown.is_empty() {
        return Err(ClientError::Invalid(format!(
            "{}: not a client field Tessera supports",
            unknown.join(", ")
        )));
    }
    let m = parsed.map_err(|e| ClientError::Invalid(format!("{}: {}", e.path(), e.inner())))?;
    m.validate().map_err(ClientError::Invalid)?;
    Ok(m)
}

/// Scopes a client names that do not exist yet: created as OAuth scopes with it.
fn new_scopes(c: &Client) -> Vec<ScopeRow> {
    c.scopes().map(|s| ScopeRow::new(s, "oauth")).collect()
}

fn read_only_value(c: &Client, field: &str) -> Value {
    match field {
        "client_id" => Value::from(c.client_id.as_str()),
        _ => Value::from(c.created_at),
    }
}

fn is_client_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_~:".contains(&b))
}

fn is_secret(s: &str) -> bool {
    SECRET_LEN.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}
