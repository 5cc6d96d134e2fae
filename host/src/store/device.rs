//! Storage for the device authorization grant (RFC 8628): one row per device code, found by the
//! hash of the device code (the device polls) or by the user code (the user types it). Every
//! state change (polled, approved, denied, redeemed) is one conditional UPDATE, so a code is
//! decided once and redeemed once, also by concurrent requests on several replicas.

use super::browser::insert_user_grant;
use super::{Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use crate::model::{Grant, TokenRecord};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A device authorization request.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// SHA-256 of the device code.
    pub device_code_hash: String,
    /// The user code, normalised (upper case, no separator).
    pub user_code: String,
    /// The client (device) that asked.
    pub client_id: String,
    /// The scopes asked for, space-separated.
    pub scope: String,
    /// `pending`, `approved`, `denied` or `used`.
    pub status: String,
    /// Once approved: what the tokens are issued from (an authorization code's payload).
    pub payload: Option<String>,
    /// The grant the tokens will belong to.
    pub grant_id: String,
    /// Seconds the device must wait between polls (raised by `slow_down`).
    pub poll_interval: i64,
    /// The last poll.
    pub last_polled_at: Option<UnixTime>,
    /// When the codes stop working.
    pub expires_at: UnixTime,
}

impl Store {
    /// Stores a new request; [`StoreError::Conflict`] if its user code is taken.
    pub async fn insert_device_code(&self, r: &DeviceRow) -> StoreResult<()> {
        let _write = self.write_guard().await;
        sqlx::query("INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, status, payload, grant_id, poll_interval, last_polled_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&r.device_code_hash)
            .bind(&r.user_code)
            .bind(&r.client_id)
            .bind(&r.scope)
            .bind(&r.status)
            .bind(r.payload.as_deref())
            .bind(&r.grant_id)
            .bind(r.poll_interval)
            .bind(r.last_polled_at)
            .bind(r.expires_at)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The request of a device code.
    pub async fn find_device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query("SELECT device_code_hash, user_code, client_id, scope, status, payload, grant_id, poll_interval, last_polled_at, expires_at FROM device_codes WHERE device_code_hash = $1")
            .bind(device_code_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// The pending, unexpired request of a user code.
    pub async fn find_pending_user_code(
        &self,
        user_code: &str,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query("SELECT device_code_hash, user_code, client_id, scope, status, payload, grant_id, poll_interval, last_polled_at, expires_at FROM device_codes WHERE user_code = $1 AND status = 'pending' AND expires_at > $2")
            .bind(user_code)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Records a poll at `now`. `false` when it came sooner than the interval after the last
    /// one; the interval then grows by `slow_down_by` seconds (RFC 8628 §3.5).
    pub async fn poll_device_code(
        &self,
        device_code_hash: &str,
        now: UnixTime,
        slow_down_by: i64,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let r = sqlx::query("UPDATE device_codes SET last_polled_at = $1 WHERE device_code_hash = $2 AND (last_polled_at IS NULL OR last_polled_at + poll_interval <= $1)")
            .bind(now)
            .bind(device_code_hash)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 1 {
            return Ok(true);
        }
        sqlx::query("UPDATE device_codes SET poll_interval = poll_interval + $1, last_polled_at = $2 WHERE device_code_hash = $3")
            .bind(slow_down_by)
            .bind(now)
            .bind(device_code_hash)
            .execute(&self.pool)
            .await?;
        Ok(false)
    }

    /// Decides a pending, unexpired request: approved with the payload tokens will be issued
    /// from, or denied (`None`). `false` if it was no longer pending.
    pub async fn decide_device_code(
        &self,
        device_code_hash: &str,
        approved: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let status = if approved.is_some() {
            "approved"
        } else {
            "denied"
        };
        let r = sqlx::query("UPDATE device_codes SET status = $1, payload = $2 WHERE device_code_hash = $3 AND status = 'pending' AND expires_at > $4")
            .bind(status)
            .bind(approved)
            .bind(device_code_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Redeems an approved request: marks it used and stores its grant and first tokens,
    /// atomically. `false` (nothing stored) if it was not approved or already redeemed.
    pub async fn redeem_device_code(
        &self,
        device_code_hash: &str,
        grant: &Grant,
        tokens: &[&TokenRecord],
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("UPDATE device_codes SET status = 'used', payload = NULL WHERE device_code_hash = $1 AND status = 'approved'")
            .bind(device_code_hash)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_user_grant(&mut tx, grant, tokens).await?;
        tx.commit().await?;
        Ok(true)
    }
}

fn device_from_row(r: &AnyRow) -> StoreResult<DeviceRow> {
    Ok(DeviceRow {
        device_code_hash: r.try_get("device_code_hash")?,
        user_code: r.try_get("user_code")?,
        client_id: r.try_get("client_id")?,
        scope: r.try_get("scope")?,
        status: r.try_get("status")?,
        payload: r.try_get("payload")?,
        grant_id: r.try_get("grant_id")?,
        poll_interval: r.try_get("poll_interval")?,
        last_polled_at: r.try_get("last_polled_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}
