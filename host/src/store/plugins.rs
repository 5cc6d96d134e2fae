//! Storage of plugins deployed through the admin API (migration 0020).

use super::{Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use sqlx::Row;

/// A stored plugin, without its component's bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PluginRow {
    /// Its name (the files it is written as are `NAME.wasm` and `NAME.toml`).
    pub name: String,
    /// The manifest's TOML text.
    pub manifest: String,
    /// Hex SHA-256 of the component.
    pub sha256: String,
    /// The manifest's version.
    pub version: String,
    /// The manifest's hook.
    pub hook: String,
    /// When it was uploaded.
    pub uploaded_at: UnixTime,
    /// Who uploaded it (the admin client).
    pub uploaded_by: String,
}

impl Store {
    /// Stores `row` with its component `wasm`, replacing a plugin of the same name.
    pub async fn put_plugin(&self, row: &PluginRow, wasm: &[u8]) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO plugins (name, manifest, wasm, sha256, version, hook, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (name) DO UPDATE SET manifest = excluded.manifest, wasm = excluded.wasm, sha256 = excluded.sha256, version = excluded.version, hook = excluded.hook, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by",
        )
        .bind(&row.name)
        .bind(&row.manifest)
        .bind(wasm.to_vec())
        .bind(&row.sha256)
        .bind(&row.version)
        .bind(&row.hook)
        .bind(row.uploaded_at)
        .bind(&row.uploaded_by)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Every stored plugin (without components), by name.
    pub async fn list_plugins(&self) -> StoreResult<Vec<PluginRow>> {
        let rows = sqlx::query(
            "SELECT name, manifest, sha256, version, hook, uploaded_at, uploaded_by FROM plugins ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PluginRow {
                    name: r.try_get("name")?,
                    manifest: r.try_get("manifest")?,
                    sha256: r.try_get("sha256")?,
                    version: r.try_get("version")?,
                    hook: r.try_get("hook")?,
                    uploaded_at: r.try_get("uploaded_at")?,
                    uploaded_by: r.try_get("uploaded_by")?,
                })
            })
            .collect()
    }

    /// The component of plugin `name` if it is stored with checksum `sha256`.
    pub async fn plugin_wasm(&self, name: &str, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT wasm FROM plugins WHERE name = $1 AND sha256 = $2")
                .bind(name)
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes plugin `name`; returns whether it was stored.
    pub async fn delete_plugin(&self, name: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM plugins WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
