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
    let Value::Object(mut fields) = input else {
        return Err(UserError::Invalid("expected a JSON object".into()));
    };
    let mut user = store
        .find_user_by_username(username)
        .await
        .map_err(UserError::Store)?
        .ok_or_else(|| UserError::NotFound(username.into()))?;
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
    if !store
        .update_user(&user, now)
        .await
        .map_err(UserError::Store)?
    {
        return Err(UserError::NotFound(username.into()));
    }
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
