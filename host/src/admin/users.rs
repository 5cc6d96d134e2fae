//! Users: `{"username": ..., "password": ..., "active": true, "tessera_roles": [...], <attributes>}` in, a stored user
//! with an argon2id hash out. Attributes are the OpenID standard claims (type-checked) and custom
//! attributes (any JSON value) that custom scopes may release. The password is never stored or
//! printed.

use crate::clock::UnixTime;
use crate::crypto::password;
use crate::crypto::secrets::random_token;
use crate::model::User;
use crate::model::user::{validate_claims, validate_username};
use crate::store::{Store, StoreError};
use serde_json::{Map, Value, json};

/// The member of a user's JSON that holds its Tessera roles (`["admin"]`). Not `roles`, which
/// is an ordinary user attribute that scopes and plugins may release.
pub const ROLES_FIELD: &str = "tessera_roles";

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The input is not acceptable; the message names the field.
    #[error("invalid user: {0}")]
    Invalid(String),
    /// No user has this username.
    #[error("no user {0:?}")]
    NotFound(String),
    /// The username is taken.
    #[error("invalid user: username: already taken")]
    Taken,
    /// The user changed since the caller read it (`If-Match` no longer matches).
    #[error("the user changed since it was read; read it again")]
    Stale,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Creates a user from its JSON description.
pub async fn create(store: &Store, input: Value, now: UnixTime) -> Result<User, UserError> {
    let Value::Object(mut fields) = input else {
        return Err(UserError::Invalid("expected a JSON object".into()));
    };
    let mut take_string = |k: &str| match fields.remove(k) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(UserError::Invalid(format!("{k}: must be a string"))),
        None => Err(UserError::Invalid(format!("{k}: required"))),
    };
    let username = take_string("username")?;
    let pw = take_string("password")?;
    validate_username(&username).map_err(UserError::Invalid)?;
    let active = match fields.remove("active") {
        None => true,
        Some(v) => active_flag(v)?,
    };
    let roles = match fields.remove(ROLES_FIELD) {
        None => Vec::new(),
        Some(v) => roles(v)?,
    };
    let claims: Map<String, Value> = fields;
    validate_claims(&claims).map_err(UserError::Invalid)?;
    let hash = hash_password(pw).await?;
    let user = User {
        user_id: random_token(16),
        username,
        password_hash: hash,
        claims,
        active,
        roles,
        created_at: now,
    };
    match store.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict) => Err(UserError::Taken),
        Err(e) => Err(UserError::Store(e)),
    }
}

/// Changes a user: `password` and `active` when present; each other member sets that attribute,
/// `null` removes it. The username stays.
pub async fn update(
    store: &Store,
    username: &str,
    input: Value,
    now: UnixTime,
) -> Result<User, UserError> {
    let current = find(store, username).await?;
    let Value::Object(fields) = input else {
        return Err(UserError::Invalid("expected a JSON object".into()));
    };
    let user = changed(current.clone(), fields).await?;
    if !store
        .update_user(&user, now)
        .await
        .map_err(UserError::Store)?
    {
        return Err(UserError::NotFound(username.into()));
    }
    Ok(user)
}

/// The user named `username`.
pub async fn find(store: &Store, username: &str) -> Result<User, UserError> {
    store
        .find_user_by_username(username)
        .await
        .map_err(UserError::Store)?
        .ok_or_else(|| UserError::NotFound(username.into()))
}

/// A user's entity tag: a digest of its public view.
pub fn etag(u: &User) -> String {
    super::etag(&to_json(u))
}

/// Members of the public view that a change cannot touch.
const READ_ONLY: &[&str] = &["sub", "username", "created_at"];

/// Changes user `username` with an RFC 6902 JSON Patch of its public view (adding `password`
/// sets a new one), if it is still the representation tagged `if_match`: a compare-and-set, so
/// two administrators cannot overwrite each other's change.
pub async fn patch(
    store: &Store,
    username: &str,
    patch: Value,
    if_match: &str,
    now: UnixTime,
) -> Result<User, UserError> {
    let current = find(store, username).await?;
    if !super::if_match(if_match, &etag(&current)) {
        return Err(UserError::Stale);
    }
    let ops: json_patch::Patch = serde_json::from_value(patch)
        .map_err(|e| UserError::Invalid(format!("the JSON Patch is malformed: {e}")))?;
    let view = to_json(&current);
    let mut doc = view.clone();
    json_patch::patch(&mut doc, &ops)
        .map_err(|e| UserError::Invalid(format!("the JSON Patch does not apply: {e}")))?;
    let (Value::Object(before), Value::Object(after)) = (view, doc) else {
        return Err(UserError::Invalid("a user is a JSON object".into()));
    };
    let mut fields = Map::new();
    for (k, v) in &after {
        if before.get(k) != Some(v) {
            fields.insert(k.clone(), v.clone());
        }
    }
    for k in before.keys().filter(|k| !after.contains_key(*k)) {
        fields.insert(k.clone(), Value::Null);
    }
    if let Some(k) = READ_ONLY.iter().find(|k| fields.contains_key(**k)) {
        return Err(UserError::Invalid(format!("{k}: cannot be changed")));
    }
    let user = changed(current.clone(), fields).await?;
    if !store
        .update_user_if(&user, &current, now)
        .await
        .map_err(UserError::Store)?
    {
        return Err(UserError::Stale);
    }
    Ok(user)
}

/// `user` with `fields` applied: `password` and `active` and the roles when present, each other
/// member an attribute (`null` removes it); the username cannot change.
async fn changed(mut user: User, mut fields: Map<String, Value>) -> Result<User, UserError> {
    match fields.remove("username") {
        Some(Value::String(u)) if u == user.username => {}
        None => {}
        Some(_) => return Err(UserError::Invalid("username: cannot be changed".into())),
    }
    if let Some(v) = fields.remove("active") {
        user.active = active_flag(v)?;
    }
    if let Some(v) = fields.remove(ROLES_FIELD) {
        user.roles = roles(v)?;
    }
    if let Some(pw) = fields.remove("password") {
        let Value::String(pw) = pw else {
            return Err(UserError::Invalid("password: must be a string".into()));
        };
        user.password_hash = hash_password(pw).await?;
    }
    let mut claims = user.claims.clone();
    for (k, v) in fields {
        if v.is_null() {
            claims.remove(&k);
        } else {
            claims.insert(k, v);
        }
    }
    validate_claims(&claims).map_err(UserError::Invalid)?;
    user.claims = claims;
    Ok(user)
}

/// Makes the first administrator unless an active one exists: user `username` (default
/// `admin`) with the admin role. A new user's password is `password`, or generated and returned
/// (to be shown once); an existing user of that name is given the role and keeps its password.
/// `None` when an administrator already existed.
pub async fn init_admin_user(
    store: &Store,
    username: Option<String>,
    password: Option<String>,
    now: UnixTime,
) -> Result<Option<(User, Option<String>)>, UserError> {
    let users = store.list_users().await.map_err(UserError::Store)?;
    if users.iter().any(User::is_admin) {
        return Ok(None);
    }
    let username = username.unwrap_or_else(|| "admin".into());
    let role = json!([crate::model::user::ADMIN_ROLE]);
    if users.iter().any(|u| u.username == username) {
        let user = update(
            store,
            &username,
            json!({ROLES_FIELD: role, "active": true}),
            now,
        )
        .await?;
        return Ok(Some((user, None)));
    }
    let (password, generated) = match password {
        Some(p) => (p, None),
        None => {
            let p = random_token(18);
            (p.clone(), Some(p))
        }
    };
    let input = json!({"username": username, "password": password, ROLES_FIELD: role});
    let user = create(store, input, now).await?;
    Ok(Some((user, generated)))
}

/// `roles`: an array of known role names, each once.
fn roles(v: Value) -> Result<Vec<String>, UserError> {
    let invalid = || {
        UserError::Invalid(format!(
            "{ROLES_FIELD}: an array of {}",
            crate::model::user::ROLES.join(", ")
        ))
    };
    let Value::Array(items) = v else {
        return Err(invalid());
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        match item.as_str() {
            Some(r) if crate::model::user::ROLES.contains(&r) => {
                if !out.iter().any(|o| o == r) {
                    out.push(r.into());
                }
            }
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

fn active_flag(v: Value) -> Result<bool, UserError> {
    v.as_bool()
        .ok_or_else(|| UserError::Invalid("active: must be true or false".into()))
}

/// Checks a new password's length and hashes it (argon2id, off the async threads).
async fn hash_password(pw: String) -> Result<String, UserError> {
    // NIST SP 800-63B §5.1.1.2: at least 8 characters; 1024 bounds the hashing work.
    let len = pw.chars().count();
    if !(8..=1024).contains(&len) {
        return Err(UserError::Invalid("password: 8 to 1024 characters".into()));
    }
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| UserError::Invalid(format!("password: {e}")))?
        .map_err(|e| UserError::Invalid(format!("password: {e}")))
}

/// The public view of a user (no password hash).
pub fn to_json(u: &User) -> Value {
    let mut v = Value::Object(u.claims.clone());
    v["sub"] = json!(u.user_id);
    v["username"] = json!(u.username);
    v["active"] = json!(u.active);
    v[ROLES_FIELD] = json!(u.roles);
    v["created_at"] = json!(u.created_at);
    v
}
