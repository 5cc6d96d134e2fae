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

/// A row of `plugins` or `plugin_canaries`, without the component.
fn plugin_row(r: &sqlx::any::AnyRow) -> Result<PluginRow, sqlx::Error> {
    Ok(PluginRow {
        name: r.try_get("name")?,
        manifest: r.try_get("manifest")?,
        sha256: r.try_get("sha256")?,
        version: r.try_get("version")?,
        hook: r.try_get("hook")?,
        uploaded_at: r.try_get("uploaded_at")?,
        uploaded_by: r.try_get("uploaded_by")?,
    })
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
        rows.iter().map(|r| Ok(plugin_row(r)?)).collect()
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

    /// Changes the manifest (and so the version) of stored plugin `name`, keeping its
    /// component; returns whether it was stored.
    pub async fn update_plugin_manifest(
        &self,
        name: &str,
        manifest: &str,
        version: &str,
    ) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE plugins SET manifest = $1, version = $2 WHERE name = $3")
            .bind(manifest)
            .bind(version)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_write)?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores `canary` (sampling `sample_percent` of the calls) with its component beside the
    /// live plugin of the same name, replacing an earlier canary. `false` when no live plugin
    /// of that name is stored.
    pub async fn put_canary(
        &self,
        canary: &PluginRow,
        sample_percent: u8,
        wasm: &[u8],
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO plugin_canaries (name, manifest, wasm, sha256, version, hook, sample_percent, uploaded_at, uploaded_by) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM plugins WHERE name = $1) \
             ON CONFLICT (name) DO UPDATE SET manifest = excluded.manifest, wasm = excluded.wasm, sha256 = excluded.sha256, version = excluded.version, hook = excluded.hook, sample_percent = excluded.sample_percent, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by",
        )
        .bind(&canary.name)
        .bind(&canary.manifest)
        .bind(wasm.to_vec())
        .bind(&canary.sha256)
        .bind(&canary.version)
        .bind(&canary.hook)
        .bind(i32::from(sample_percent))
        .bind(canary.uploaded_at)
        .bind(&canary.uploaded_by)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(r.rows_affected() == 1)
    }

    /// Every stored canary (without components) with its sample share, by name.
    pub async fn list_canaries(&self) -> StoreResult<Vec<(PluginRow, u8)>> {
        let rows = sqlx::query(
            "SELECT name, manifest, sha256, version, hook, sample_percent, uploaded_at, uploaded_by FROM plugin_canaries ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let sample: i32 = r.try_get("sample_percent")?;
                Ok((
                    plugin_row(r)?,
                    u8::try_from(sample.clamp(0, 100)).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// The component of canary `name` if it is stored with checksum `sha256`.
    pub async fn canary_wasm(&self, name: &str, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT wasm FROM plugin_canaries WHERE name = $1 AND sha256 = $2")
                .bind(name)
                .bind(sha256)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes canary `name`; returns whether there was one.
    pub async fn delete_canary(&self, name: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM plugin_canaries WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Makes canary `name` (checksum `sha256`, as the administrator saw it) the live version
    /// in one transaction, by `by` at `now`; returns whether that canary was there.
    pub async fn promote_canary(
        &self,
        name: &str,
        sha256: &str,
        by: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE plugins SET manifest = c.manifest, wasm = c.wasm, sha256 = c.sha256, version = c.version, hook = c.hook, uploaded_at = $1, uploaded_by = $2 \
             FROM (SELECT manifest, wasm, sha256, version, hook FROM plugin_canaries WHERE name = $3 AND sha256 = $4) AS c WHERE plugins.name = $3",
        )
        .bind(now)
        .bind(by)
        .bind(name)
        .bind(sha256)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM plugin_canaries WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await.map_err(StoreError::from_write)?;
        Ok(true)
    }
}
