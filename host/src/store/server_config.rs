//! Storage of the run-time configuration (migration 0017): one row holding the administrators'
//! overrides and a revision. Every change is conditional on the revision it was made against, so
//! two administrators cannot overwrite each other's change unseen.

use super::{Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use sqlx::Row;

/// The stored run-time configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    /// The overrides: a JSON merge patch over the start-up settings.
    pub overrides: serde_json::Value,
    /// Incremented by every change; 0 before the first.
    pub revision: i64,
    /// When it last changed.
    pub updated_at: UnixTime,
    /// Who changed it last (the admin client or CLI user); empty before the first change.
    pub updated_by: String,
}

impl Store {
    /// The run-time configuration.
    pub async fn server_config(&self) -> StoreResult<ConfigRow> {
        let row = sqlx::query(
            "SELECT overrides, revision, updated_at, updated_by FROM server_config WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let text: String = row.try_get("overrides")?;
        Ok(ConfigRow {
            overrides: serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("server_config.overrides: {e}")))?,
            revision: row.try_get("revision")?,
            updated_at: row.try_get("updated_at")?,
            updated_by: row.try_get("updated_by")?,
        })
    }

    /// Stores new overrides as revision `expected + 1` if the stored revision is still
    /// `expected`; returns whether it stored.
    pub async fn set_server_config(
        &self,
        overrides: &serde_json::Value,
        expected: i64,
        now: UnixTime,
        by: &str,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE server_config SET overrides = $1, revision = revision + 1, updated_at = $2, updated_by = $3 WHERE id = 1 AND revision = $4",
        )
        .bind(overrides.to_string())
        .bind(now)
        .bind(by)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Fires when another process (replica, offline CLI) changed clients, scopes or the
    /// run-time configuration, once the watcher started by [`watch_changes`](Self::watch_changes)
    /// saw it.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cache.changes()
    }
}
