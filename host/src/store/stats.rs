//! Storage for usage statistics (see `crate::stats`): token counts added to with one upsert
//! per key, and each replica's HyperLogLog registers per month under its own key.

use super::{Store, StoreResult};
use crate::stats::Pending;
use sqlx::Row;

/// One stored token count: month, client, grant type, kind, count.
pub type TokenCount = (String, String, String, String, i64);

impl Store {
    /// Stores what a replica counted since its last flush, in one transaction.
    pub async fn flush_stats(&self, pending: &Pending, replica: &str) -> StoreResult<()> {
        if pending.tokens.is_empty() && pending.users.is_empty() {
            return Ok(());
        }
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        for ((month, client_id, grant_type, kind), n) in &pending.tokens {
            sqlx::query("INSERT INTO stat_tokens (month, client_id, grant_type, kind, count) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (month, client_id, grant_type, kind) DO UPDATE SET count = stat_tokens.count + excluded.count")
                .bind(month)
                .bind(client_id)
                .bind(grant_type)
                .bind(*kind)
                .bind(*n)
                .execute(&mut *tx)
                .await?;
        }
        for (month, hll) in &pending.users {
            sqlx::query("INSERT INTO stat_users (month, replica, registers) VALUES ($1, $2, $3) ON CONFLICT (month, replica) DO UPDATE SET registers = excluded.registers")
                .bind(month)
                .bind(replica)
                .bind(hll.encode())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Token counts of the months from `first` to `last` (`YYYYMM`, inclusive).
    pub async fn stat_tokens(&self, first: &str, last: &str) -> StoreResult<Vec<TokenCount>> {
        let rows = sqlx::query("SELECT month, client_id, grant_type, kind, count FROM stat_tokens WHERE month >= $1 AND month <= $2 ORDER BY month, client_id, grant_type, kind")
            .bind(first)
            .bind(last)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("month")?,
                    r.try_get("client_id")?,
                    r.try_get("grant_type")?,
                    r.try_get("kind")?,
                    r.try_get("count")?,
                ))
            })
            .collect()
    }

    /// Every replica's HyperLogLog registers of the months from `first` to `last`.
    pub async fn stat_users(&self, first: &str, last: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT month, registers FROM stat_users WHERE month >= $1 AND month <= $2",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("month")?, r.try_get("registers")?)))
            .collect()
    }
}
