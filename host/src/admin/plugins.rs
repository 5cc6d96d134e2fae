//! Seed 001's deployment screen for Wasm plugins: a component uploaded with its manifest and a
//! SHA-256 that must match is checked (it compiles, and exports the manifest's hook), stored in
//! the database, and served by every replica: each server writes the stored plugins into its
//! plugin directory ([`sync`]) and reloads, at start-up and whenever the stored set changes.
//! Plugins that were installed as files by hand are left alone.

use crate::clock::UnixTime;
use crate::crypto::secrets::sha256_hex;
use crate::plugins::manifest::Manifest;
use crate::plugins::registry::Registry;
use crate::store::{PluginRow, Store, StoreError};
use std::collections::BTreeSet;
use std::path::Path;

/// Lists the plugins this server wrote from the database, in its plugin directory.
const MANAGED: &str = ".tessera-managed-plugins";

/// Why a deployment was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The upload is not acceptable; the message names the field and the reason.
    #[error("{0}")]
    Invalid(String),
    /// No such plugin.
    #[error("no plugin {0:?}")]
    NotFound(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A plugin to deploy.
#[derive(Debug)]
pub struct Upload {
    /// Its name.
    pub name: String,
    /// The manifest's TOML text (its `sha256` must be the component's).
    pub manifest: String,
    /// The component.
    pub wasm: Vec<u8>,
    /// The SHA-256 (hex) the uploader computed.
    pub sha256: String,
}

/// Checks `upload`: the checksum, the manifest, and that the component compiles and exports
/// the manifest's hook. Returns the row to store.
async fn check(
    registry: &Registry,
    upload: &Upload,
    by: &str,
    now: UnixTime,
) -> Result<PluginRow, DeployError> {
    let actual = sha256_hex(&upload.wasm);
    if !upload.sha256.eq_ignore_ascii_case(&actual) {
        return Err(DeployError::Invalid(format!(
            "sha256: {} is not the SHA-256 of the uploaded component ({actual})",
            upload.sha256
        )));
    }
    let manifest = Manifest::parse(&upload.manifest, &upload.name).map_err(DeployError::Invalid)?;
    if !manifest.sha256.eq_ignore_ascii_case(&actual) {
        return Err(DeployError::Invalid(format!(
            "manifest: sha256 {} is not the SHA-256 of the uploaded component ({actual})",
            manifest.sha256
        )));
    }
    let inspection =
        crate::plugins::tool::check_bytes(upload.wasm.clone(), &upload.name, registry.cache())
            .await
            .map_err(|e| DeployError::Invalid(format!("wasm: {e}")))?;
    if inspection.hook != manifest.hook {
        return Err(DeployError::Invalid(format!(
            "manifest: hook {} but the component exports {}",
            manifest.hook.name(),
            inspection.hook.name()
        )));
    }
    Ok(PluginRow {
        name: upload.name.clone(),
        manifest: upload.manifest.clone(),
        sha256: actual,
        version: manifest.version.clone(),
        hook: manifest.hook.name().to_string(),
        uploaded_at: now,
        uploaded_by: by.to_string(),
    })
}

/// Checks `upload` and stores it; the caller then [`sync`]s and reloads.
pub async fn deploy(
    store: &Store,
    registry: &Registry,
    upload: Upload,
    by: &str,
    now: UnixTime,
) -> Result<PluginRow, DeployError> {
    let row = check(registry, &upload, by, now).await?;
    store.put_plugin(&row, &upload.wasm).await?;
    Ok(row)
}

/// The stored plugin `name`.
pub async fn stored(store: &Store, name: &str) -> Result<PluginRow, DeployError> {
    store
        .list_plugins()
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| DeployError::NotFound(name.into()))
}

/// Enables or disables stored plugin `name` (its manifest's `enabled`); the caller then
/// [`sync`]s and reloads.
pub async fn set_enabled(
    store: &Store,
    name: &str,
    enabled: bool,
) -> Result<PluginRow, DeployError> {
    let mut row = stored(store, name).await?;
    let mut table: toml::Table = row
        .manifest
        .parse()
        .map_err(|e| DeployError::Invalid(format!("the stored manifest: {e}")))?;
    table.insert("enabled".into(), toml::Value::Boolean(enabled));
    let text = toml::to_string(&table)
        .map_err(|e| DeployError::Invalid(format!("the stored manifest: {e}")))?;
    Manifest::parse(&text, name).map_err(DeployError::Invalid)?;
    if !store
        .update_plugin_manifest(name, &text, &row.version)
        .await?
    {
        return Err(DeployError::NotFound(name.into()));
    }
    row.manifest = text;
    Ok(row)
}

/// Checks `upload` as a canary of the deployed plugin of its name, sampling `sample_percent`
/// (1 to 100) of calls, and stores it; the caller then [`sync`]s.
pub async fn deploy_canary(
    store: &Store,
    registry: &Registry,
    upload: Upload,
    sample_percent: u8,
    by: &str,
    now: UnixTime,
) -> Result<PluginRow, DeployError> {
    if !(1..=100).contains(&sample_percent) {
        return Err(DeployError::Invalid("sample_percent: 1 to 100".into()));
    }
    let live = stored(store, &upload.name).await?;
    let row = check(registry, &upload, by, now).await?;
    if row.hook != live.hook {
        return Err(DeployError::Invalid(format!(
            "manifest: hook {} but the live version serves {}",
            row.hook, live.hook
        )));
    }
    if !store.put_canary(&row, sample_percent, &upload.wasm).await? {
        return Err(DeployError::NotFound(upload.name));
    }
    Ok(row)
}

/// Discards the canary of `name`; the caller then [`sync`]s.
pub async fn discard_canary(store: &Store, name: &str) -> Result<(), DeployError> {
    if store.delete_canary(name).await? {
        Ok(())
    } else {
        Err(DeployError::NotFound(format!("{name} (canary)")))
    }
}

/// Makes the canary of `name` (checksum `sha256`) the live version in one step; the caller
/// then [`sync`]s and reloads.
pub async fn promote_canary(
    store: &Store,
    name: &str,
    sha256: &str,
    by: &str,
    now: UnixTime,
) -> Result<PluginRow, DeployError> {
    if !store.promote_canary(name, sha256, by, now).await? {
        return Err(DeployError::NotFound(format!(
            "{name} (a canary with sha256 {sha256})"
        )));
    }
    stored(store, name).await
}

/// Runs the stored canaries beside their live plugins: prepares new and changed ones, stops
/// removed ones. A canary that fails to load is logged and not run.
pub async fn sync_canaries(store: &Store, registry: &Registry) -> anyhow::Result<()> {
    let rows = store.list_canaries().await?;
    let running = registry.canaries();
    if rows.is_empty() && running.is_empty() {
        return Ok(());
    }
    let mut next = std::collections::BTreeMap::new();
    for (row, sample) in rows {
        if let Some(c) = running.get(&row.name)
            && c.plugin.sha256 == row.sha256
            && c.sample_percent == sample
            && Manifest::parse(&row.manifest, &row.name).ok().as_ref() == Some(&c.plugin.manifest)
        {
            next.insert(row.name.clone(), c.clone());
            continue;
        }
        let Some(wasm) = store.canary_wasm(&row.name, &row.sha256).await? else {
            continue;
        };
        match registry
            .prepare_canary(&row.name, &row.manifest, wasm, sample)
            .await
        {
            Ok(c) => {
                tracing::info!(
                    plugin = row.name.as_str(),
                    version = row.version.as_str(),
                    sample_percent = sample,
                    "canary running"
                );
                next.insert(row.name.clone(), std::sync::Arc::new(c));
            }
            Err(e) => {
                tracing::error!(plugin = row.name.as_str(), error = %e, "canary refused");
            }
        }
    }
    registry.set_canaries(next);
    Ok(())
}

/// Deletes stored plugin `name`; the caller then [`sync`]s and reloads.
pub async fn remove(store: &Store, name: &str) -> Result<(), DeployError> {
    if store.delete_plugin(name).await? {
        Ok(())
    } else {
        Err(DeployError::NotFound(name.into()))
    }
}

/// Makes the plugin directory hold exactly the stored plugins among those this server wrote
/// (files are written under temporary names and renamed, component first); returns whether a
/// file changed, i.e. whether the registry should reload.
pub async fn sync(store: &Store, registry: &Registry) -> anyhow::Result<bool> {
    let dir = registry.dir();
    let rows = store.list_plugins().await?;
    tokio::fs::create_dir_all(dir).await?;
    // What serves already needs no reading of its file (components can be tens of MB).
    let serving: std::collections::HashMap<String, String> = registry
        .status()
        .into_iter()
        .filter_map(|s| Some((s.name, s.sha256?)))
        .collect();
    let mut changed = false;
    for row in &rows {
        let wasm_path = dir.join(format!("{}.wasm", row.name));
        let up_to_date = serving.get(&row.name) == Some(&row.sha256) || {
            let current = tokio::fs::read(&wasm_path).await.ok();
            current.as_deref().map(sha256_hex).as_deref() == Some(row.sha256.as_str())
        };
        if !up_to_date {
            // Replaced meanwhile: the next change notification brings the new row.
            let Some(wasm) = store.plugin_wasm(&row.name, &row.sha256).await? else {
                continue;
            };
            write_atomically(&wasm_path, &wasm).await?;
            changed = true;
        }
        let toml_path = dir.join(format!("{}.toml", row.name));
        if tokio::fs::read_to_string(&toml_path).await.ok().as_deref()
            != Some(row.manifest.as_str())
        {
            write_atomically(&toml_path, row.manifest.as_bytes()).await?;
            changed = true;
        }
    }
    let stored: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let managed_path = dir.join(MANAGED);
    let before = tokio::fs::read_to_string(&managed_path)
        .await
        .unwrap_or_default();
    for gone in before
        .lines()
        .filter(|n| !n.is_empty() && !stored.contains(n))
    {
        for ext in ["toml", "wasm"] {
            match tokio::fs::remove_file(dir.join(format!("{gone}.{ext}"))).await {
                Ok(()) => changed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let list: String = stored.iter().map(|n| format!("{n}\n")).collect();
    if list != before {
        write_atomically(&managed_path, list.as_bytes()).await?;
    }
    Ok(changed)
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("plugin");
    // Unique per write: replicas on one machine may share the directory and sync at once.
    let tmp = path.with_file_name(format!(
        ".{name}.{}.tmp",
        crate::crypto::secrets::random_token(8)
    ));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}
