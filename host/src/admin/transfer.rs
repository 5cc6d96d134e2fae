//! Export and import of the whole configuration as one document (issue 14): clients without
//! secrets, scopes (all but spontaneous ones), the run-time configuration overrides (ACRs, feature
//! flags, properties, logging) and the plugin manifests. Importing makes the server match the
//! document item by item (create what is missing, change what differs, leave the rest), so a
//! second import of the same document changes nothing. Nothing is deleted.

use super::clients::{self, ClientError, ClientView};
use super::config::{self, ChangeError};
use super::scopes::{self, ScopeError, ScopeView};
use crate::clock::UnixTime;
use crate::server::AppState;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The document's format tag.
pub const FORMAT: &str = "tessera-export/1";

/// A plugin's manifest as deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PluginManifest {
    /// The plugin's name (its files are `NAME.toml` and `NAME.wasm`).
    pub name: String,
    /// The manifest's TOML text.
    pub manifest: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Export {
    /// `tessera-export/1`.
    pub format: String,
    /// When it was exported.
    pub exported_at: UnixTime,
    /// Every client, without secrets.
    #[schema(value_type = Vec<Object>)]
    pub clients: Vec<Value>,
    /// Every scope but the spontaneous ones.
    #[schema(value_type = Vec<Object>)]
    pub scopes: Vec<Value>,
    /// The run-time configuration's overrides (a merge patch over the file settings).
    #[schema(value_type = Object)]
    pub config: Value,
    /// The plugin manifests.
    pub plugins: Vec<PluginManifest>,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Items created (`clients/ID`, `scopes/ID`).
    pub created: Vec<String>,
    /// Items changed to match the document (`clients/ID`, `scopes/ID`, `config`).
    pub updated: Vec<String>,
    /// How many items already matched.
    pub unchanged: usize,
    /// The secrets of the confidential clients created, shown in this answer only.
    pub secrets: BTreeMap<String, String>,
    /// Plugin manifests that differ from what is deployed: plugins are deployed as files (and
    /// later through the plugin API), not by import.
    pub plugins_not_applied: Vec<String>,
}

/// Why an import stopped (what came before the failing item was applied; importing again
/// after fixing it is safe).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The document or one of its items is not acceptable; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// Something changed meanwhile.
    #[error("{0}")]
    Stale(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The whole configuration as one document.
pub async fn export(state: &AppState) -> Result<Export, ImportError> {
    let store = state.store();
    let clients = store
        .list_clients()
        .await?
        .iter()
        .filter_map(|c| serde_json::to_value(ClientView::of(c)).ok())
        .collect();
    let scopes = store
        .list_scopes()
        .await?
        .iter()
        .filter(|s| s.scope_type != "spontaneous")
        .filter_map(|s| serde_json::to_value(ScopeView::of(s)).ok())
        .collect();
    let config = store.server_config().await?.overrides;
    Ok(Export {
        format: FORMAT.into(),
        exported_at: state.now(),
        clients,
        scopes,
        config,
        plugins: plugin_manifests(state),
    })
}

/// Makes the server match `doc` (see the module documentation).
pub async fn import(
    state: &AppState,
    doc: Value,
    by: &str,
    now: UnixTime,
) -> Result<ImportReport, ImportError> {
    let doc: Export = serde_path_to_error::deserialize(doc)
        .map_err(|e| ImportError::Invalid(format!("{}: {}", e.path(), e.inner())))?;
    if doc.format != FORMAT {
        return Err(ImportError::Invalid(format!("format: must be {FORMAT:?}")));
    }
    let mut report = ImportReport::default();
    for (i, scope) in doc.scopes.into_iter().enumerate() {
        import_scope(state, scope, now, &mut report)
            .await
            .map_err(|e| at(&format!("scopes[{i}]"), e))?;
    }
    for (i, client) in doc.clients.into_iter().enumerate() {
        import_client(state, client, now, &mut report)
            .await
            .map_err(|e| at(&format!("clients[{i}]"), e))?;
    }
    import_config(state, doc.config, by, now, &mut report).await?;
    let deployed = plugin_manifests(state);
    for p in doc.plugins {
        if deployed.contains(&p) {
            report.unchanged += 1;
        } else {
            report.plugins_not_applied.push(p.name);
        }
    }
    Ok(report)
}

fn at(path: &str, e: ImportError) -> ImportError {
    match e {
        ImportError::Invalid(m) => ImportError::Invalid(format!("{path}: {m}")),
        ImportError::Stale(m) => ImportError::Stale(format!("{path}: {m}")),
        other => other,
    }
}

impl From<ScopeError> for ImportError {
    fn from(e: ScopeError) -> Self {
        match e {
            ScopeError::Store(e) => ImportError::Store(e),
            ScopeError::Stale => ImportError::Stale(e.to_string()),
            other => ImportError::Invalid(other.to_string()),
        }
    }
}

impl From<ClientError> for ImportError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Store(e) => ImportError::Store(e),
            ClientError::Stale => ImportError::Stale(e.to_string()),
            other => ImportError::Invalid(other.to_string()),
        }
    }
}

impl From<ChangeError> for ImportError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Store(e) => ImportError::Store(e),
            ChangeError::Stale => ImportError::Stale(e.to_string()),
            ChangeError::Invalid(m) => ImportError::Invalid(format!("config: {m}")),
        }
    }
}

/// The members of `v`, or an error naming what it is not.
fn members(v: Value) -> Result<Map<String, Value>, ImportError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ImportError::Invalid("must be a JSON object".into())),
    }
}

async fn import_scope(
    state: &AppState,
    scope: Value,
    now: UnixTime,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut m = members(scope)?;
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::Invalid("id: required".into()))?
        .to_string();
    // Who created it is recorded by this server, not imported.
    m.remove("creator");
    m.remove("creator_id");
    let Some(current) = state.store().find_scope(&id).await? else {
        scopes::create(state.store(), Value::Object(m), now).await?;
        report.created.push(format!("scopes/{id}"));
        return Ok(());
    };
    let view = serde_json::to_value(ScopeView::of(&current)).unwrap_or_default();
    let differs = ["scope_type", "description", "claims", "default_scope"]
        .iter()
        .any(|k| m.get(*k).is_some_and(|v| Some(v) != view.get(*k)));
    if differs {
        scopes::update(state.store(), &id, Value::Object(m), now, None).await?;
        report.updated.push(format!("scopes/{id}"));
    } else {
        report.unchanged += 1;
    }
    Ok(())
}

async fn import_client(
    state: &AppState,
    client: Value,
    now: UnixTime,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut m = members(client)?;
    if m.contains_key("client_secret") {
        return Err(ImportError::Invalid(
            "client_secret: exports carry no secrets; set one through the clients API".into(),
        ));
    }
    let id = m
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::Invalid("client_id: required".into()))?
        .to_string();
    // The registration time is this server's.
    m.remove("client_id_issued_at");
    let current = match clients::current(state.store(), &id).await {
        Ok(c) => c,
        Err(ClientError::NotFound(_)) => {
            let reg =
                clients::create(state.store(), state.master_key(), Value::Object(m), now).await?;
            if let Some(secret) = reg.secret {
                report.secrets.insert(id.clone(), secret);
            }
            report.created.push(format!("clients/{id}"));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut view =
        members(serde_json::to_value(ClientView::of(&current.client)).unwrap_or_default())?;
    view.remove("client_id_issued_at");
    // What the document states, compared with the client's metadata as stored (defaults filled).
    let wanted = clients::normalized(Value::Object(m.clone()))?;
    if wanted == Value::Object(view) {
        report.unchanged += 1;
        return Ok(());
    }
    clients::replace(
        state.store(),
        state.master_key(),
        current,
        Value::Object(m),
        now,
    )
    .await?;
    report.updated.push(format!("clients/{id}"));
    Ok(())
}

async fn import_config(
    state: &AppState,
    overrides: Value,
    by: &str,
    now: UnixTime,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let row = state.store().server_config().await?;
    if row.overrides == overrides {
        report.unchanged += 1;
        return Ok(());
    }
    config::replace_overrides(state, overrides, &row, by, now).await?;
    report.updated.push("config".into());
    Ok(())
}

/// The manifests in the plugin directory, by name.
fn plugin_manifests(state: &AppState) -> Vec<PluginManifest> {
    let dir = state.hooks().registry().dir().to_path_buf();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PluginManifest> = entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "toml").then_some(())?;
            Some(PluginManifest {
                name: path.file_stem()?.to_str()?.to_string(),
                manifest: std::fs::read_to_string(&path).ok()?,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
