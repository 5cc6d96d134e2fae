//! Seed 001's Server configuration (and Logging) screen: every setting readable, the run-time
//! ones changeable while the server runs. A change is stored as overrides over the start-up
//! settings ([`crate::config::Settings::with_overrides`]), conditional on the revision it was
//! made against, put in force in this process at once and in every other replica within a second
//! (the `config` change counter of migration 0017).

use crate::clock::UnixTime;
use crate::config::{START_UP, Settings};
use crate::server::AppState;
use crate::store::{ConfigRow, StoreError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Why a configuration change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A key is unknown, a start-up setting, or its value is wrong (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// The configuration changed since the representation the change was made against.
    #[error("the configuration changed since it was read; read it again")]
    Stale,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A setting that only the file or environment sets, read at start-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartUpKey {
    /// Dotted key (`outbound`, `metrics.listen`).
    pub key: String,
    /// Why it cannot change at run time.
    pub reason: String,
}

/// The configuration as administrators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    /// Incremented by every change; 0 before the first.
    pub revision: i64,
    /// When it last changed (0: never).
    pub updated_at: UnixTime,
    /// Who changed it last (the admin client); empty before the first change.
    pub updated_by: String,
    /// Every setting in force (the master key masked). JSON Patch paths point into this.
    #[schema(value_type = Settings)]
    pub settings: Value,
    /// What administrators changed over the file and environment: an RFC 7396 merge patch.
    #[schema(value_type = Object)]
    pub overrides: Value,
    /// The settings that need the file or environment and a restart.
    pub start_up: Vec<StartUpKey>,
    /// Janssen property names and the dotted key of the setting each is; a patch may use
    /// either (`/accessTokenLifetime` or `/tokens/access_token_lifetime`).
    pub janssen_names: std::collections::BTreeMap<String, String>,
}

impl ConfigView {
    fn of(settings: &Settings, row: &ConfigRow) -> Self {
        Self {
            revision: row.revision,
            updated_at: row.updated_at,
            updated_by: row.updated_by.clone(),
            settings: settings.to_public_json(),
            overrides: row.overrides.clone(),
            start_up: START_UP
                .iter()
                .map(|(key, reason)| StartUpKey {
                    key: (*key).into(),
                    reason: (*reason).into(),
                })
                .collect(),
            janssen_names: crate::config::JANSSEN_NAMES
                .iter()
                .map(|(j, k)| ((*j).to_string(), (*k).to_string()))
                .collect(),
        }
    }

    /// The view's entity tag.
    pub fn etag(&self) -> String {
        super::etag(self)
    }
}

/// The stored configuration and its view, as this process applies it.
/// Every leaf of a settings document with its dotted key (`log.level`), in key order.
pub fn flatten(settings: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            _ => out.push((prefix.to_string(), v.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", settings, &mut out);
    out
}

/// The JSON Pointer (RFC 6901) of a dotted key: `log.level` is `/log/level`.
pub fn pointer(key: &str) -> String {
    key.split('.')
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// A value as an administrator types it: JSON when it parses as JSON, else a string.
pub fn typed(value: &str) -> Value {
    serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

/// Reads the configuration: the stored row and the view of it.
pub async fn current(state: &AppState) -> Result<(ConfigRow, ConfigView), ChangeError> {
    let row = state.store().server_config().await?;
    let settings = state.base_settings().with_stored_overrides(&row.overrides);
    let view = ConfigView::of(&settings, &row);
    Ok((row, view))
}

/// A JSON Patch with Janssen property names in its `path` and `from` members rewritten to the
/// settings' own paths ([`crate::config::JANSSEN_NAMES`]).
fn janssen_paths(mut patch: Value) -> Value {
    if let Value::Array(ops) = &mut patch {
        for op in ops {
            for member in ["path", "from"] {
                if let Some(Value::String(p)) = op.get_mut(member) {
                    *p = crate::config::from_janssen_pointer(p);
                }
            }
        }
    }
    patch
}

/// `remove` of a setting (an object member; not an array item) resets it: it becomes a
/// `replace` with the file (or default) value from `base`, so the override goes away.
fn resets(ops: json_patch::Patch, current: &Value, base: &Value) -> json_patch::Patch {
    json_patch::Patch(
        ops.0
            .into_iter()
            .map(|op| match op {
                json_patch::PatchOperation::Remove(r) => {
                    let path = r.path.to_string();
                    let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
                    match (current.pointer(parent), base.pointer(&path)) {
                        (Some(Value::Object(_)), Some(value)) => {
                            json_patch::PatchOperation::Replace(json_patch::ReplaceOperation {
                                path: r.path,
                                value: value.clone(),
                            })
                        }
                        _ => json_patch::PatchOperation::Remove(r),
                    }
                }
                other => other,
            })
            .collect(),
    )
}

/// Applies an RFC 6902 JSON Patch to the `settings` of the view whose tag is `if_match`,
/// stores the result and puts it in force here; every other replica follows.
pub async fn patch(
    state: &AppState,
    patch: Value,
    if_match: &str,
    by: &str,
    now: UnixTime,
) -> Result<ConfigView, ChangeError> {
    let (row, view) = current(state).await?;
    if !super::if_match(if_match, &view.etag()) {
        return Err(ChangeError::Stale);
    }
    let ops: json_patch::Patch = serde_json::from_value(janssen_paths(patch))
        .map_err(|e| ChangeError::Invalid(format!("the JSON Patch is malformed: {e}")))?;
    let ops = resets(ops, &view.settings, &state.base_settings().to_public_json());
    let mut doc = view.settings.clone();
    json_patch::patch(&mut doc, &ops)
        .map_err(|e| ChangeError::Invalid(format!("the JSON Patch does not apply: {e}")))?;
    let base = state.base_settings();
    // The masked master key is not a change (and the real one is a start-up setting).
    if doc.get("master_key") == view.settings.get("master_key") {
        doc["master_key"] = Value::from(base.master_key.0.as_str());
    }
    replace_overrides(state, base.overrides_for(&doc), &row, by, now).await
}

/// Replaces the stored overrides with `overrides` if the stored row is still `read`, and puts
/// the result in force here (every other replica follows).
pub async fn replace_overrides(
    state: &AppState,
    overrides: Value,
    read: &ConfigRow,
    by: &str,
    now: UnixTime,
) -> Result<ConfigView, ChangeError> {
    let (row, settings) = store_overrides(
        state.store(),
        state.base_settings(),
        overrides,
        read,
        by,
        now,
    )
    .await?;
    let view = ConfigView::of(&settings, &row);
    state.apply_config(settings, row.revision);
    Ok(view)
}

/// Sets (`Some`) or removes (`None`) the overrides of dotted keys directly in the database, as
/// the offline CLI does: validated as a patch is, stored against the revision read, recorded in
/// the audit log; running servers follow within a second. Returns the new row and settings.
pub async fn set_keys(
    store: &crate::store::Store,
    base: &Settings,
    changes: &[(String, Option<Value>)],
    by: &str,
    now: UnixTime,
) -> Result<(ConfigRow, Settings), ChangeError> {
    let row = store.server_config().await?;
    let mut overrides = row.overrides.clone();
    for (key, value) in changes {
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ChangeError::Invalid(format!("{key}: not a dotted key")));
        }
        match value {
            Some(v) => set_path(&mut overrides, &path, v.clone()),
            None => remove_path(&mut overrides, &path),
        }
    }
    let before = row.overrides.clone();
    let (row, settings) = store_overrides(store, base, overrides, &row, by, now).await?;
    let audit = super::audit::Change {
        actor_client: by,
        actor_user: None,
        resource: "config",
        action: "patch",
        resource_id: &row.revision.to_string(),
        before: Some(before),
        after: Some(row.overrides.clone()),
    };
    super::audit::record(store, audit, now).await;
    Ok((row, settings))
}

/// Validates `overrides` over `base` and stores them, normalized (a key equal to its file value
/// is no override), as the revision after `read` if the stored one is still `read`'s. Returns
/// the stored row and the settings it puts in force.
async fn store_overrides(
    store: &crate::store::Store,
    base: &Settings,
    overrides: Value,
    read: &ConfigRow,
    by: &str,
    now: UnixTime,
) -> Result<(ConfigRow, Settings), ChangeError> {
    let settings = base
        .with_overrides(&overrides)
        .map_err(|e| ChangeError::Invalid(format!("{}: {}", e.key, e.message)))?;
    let overrides = base.overrides_for(&serde_json::to_value(&settings).unwrap_or_default());
    if !store
        .set_server_config(&overrides, read.revision, now, by)
        .await?
    {
        return Err(ChangeError::Stale);
    }
    let row = ConfigRow {
        overrides,
        revision: read.revision + 1,
        updated_at: now,
        updated_by: by.into(),
    };
    Ok((row, settings))
}

fn set_path(v: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        if !cur.get(*p).is_some_and(Value::is_object) {
            cur[*p] = Value::Object(serde_json::Map::new());
        }
        cur = &mut cur[*p];
    }
    cur[*last] = value;
}

fn remove_path(v: &mut Value, path: &[&str]) {
    match path {
        [] => {}
        [last] => {
            if let Some(m) = v.as_object_mut() {
                m.remove(*last);
            }
        }
        [first, rest @ ..] => {
            if let Some(child) = v.get_mut(*first) {
                remove_path(child, rest);
                if child.as_object().is_some_and(serde_json::Map::is_empty)
                    && let Some(m) = v.as_object_mut()
                {
                    m.remove(*first);
                }
            }
        }
    }
}
