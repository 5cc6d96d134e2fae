//! Storage for software statement assertions (see `oauth::ssa`). Using a one-time SSA and
//! revoking one are conditional UPDATEs, so a one-time SSA registers one client, also under a
//! race across replicas.

use super::{Store, StoreResult};
use crate::clock::UnixTime;
use sqlx::Row;
use sqlx::any::AnyRow;

/// An issued SSA.
#[derive(Debug, Clone)]
pub struct SsaRow {
    /// The JWT id.
    pub jti: String,
    /// The organisation it was issued for.
    pub org_id: String,
    /// The software it vouches for.
    pub software_id: String,
    /// Its claims (a JSON object).
    pub claims: String,
    /// Whether one registration uses it up.
    pub one_time_use: bool,
    /// `active`, `used` or `revoked`.
    pub status: String,
    /// The client that issued it.
    pub created_by: String,
    /// Issue time.
    pub created_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

impl Store {
    /// Stores a new SSA.
    pub async fn insert_ssa(&self, r: &SsaRow) -> StoreResult<()> {
        let _write = self.write_guard().await;
        sqlx::query("INSERT INTO ssas (jti, org_id, software_id, claims, one_time_use, status, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&r.jti)
            .bind(&r.org_id)
            .bind(&r.software_id)
            .bind(&r.claims)
            .bind(i64::from(r.one_time_use))
            .bind(&r.status)
            .bind(&r.created_by)
            .bind(r.created_at)
            .bind(r.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// One SSA.
    pub async fn find_ssa(&self, jti: &str) -> StoreResult<Option<SsaRow>> {
        let row = sqlx::query("SELECT jti, org_id, software_id, claims, one_time_use, status, created_by, created_at, expires_at FROM ssas WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ssa_from_row).transpose()
    }

    /// SSAs, newest first, optionally of one `jti` or one organisation.
    pub async fn list_ssas(
        &self,
        jti: Option<&str>,
        org_id: Option<&str>,
    ) -> StoreResult<Vec<SsaRow>> {
        let rows = sqlx::query("SELECT jti, org_id, software_id, claims, one_time_use, status, created_by, created_at, expires_at FROM ssas WHERE ($1 IS NULL OR jti = $1) AND ($2 IS NULL OR org_id = $2) ORDER BY created_at DESC, jti")
            .bind(jti)
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ssa_from_row).collect()
    }

    /// Marks a one-time SSA used; `false` if it was no longer active.
    pub async fn use_ssa(&self, jti: &str) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let r = sqlx::query("UPDATE ssas SET status = 'used' WHERE jti = $1 AND status = 'active'")
            .bind(jti)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes the active SSAs of one `jti` or of one organisation; how many.
    pub async fn revoke_ssas(&self, jti: Option<&str>, org_id: Option<&str>) -> StoreResult<u64> {
        let _write = self.write_guard().await;
        let r = sqlx::query("UPDATE ssas SET status = 'revoked' WHERE status <> 'revoked' AND ($1 IS NULL OR jti = $1) AND ($2 IS NULL OR org_id = $2)")
            .bind(jti)
            .bind(org_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

fn ssa_from_row(r: &AnyRow) -> StoreResult<SsaRow> {
    let one: i64 = r.try_get("one_time_use")?;
    Ok(SsaRow {
        jti: r.try_get("jti")?,
        org_id: r.try_get("org_id")?,
        software_id: r.try_get("software_id")?,
        claims: r.try_get("claims")?,
        one_time_use: one != 0,
        status: r.try_get("status")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}
