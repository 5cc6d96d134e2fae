//! Storage for dynamically registered clients (RFC 7591, RFC 7592): the client row with the
//! hash of its registration access token. Every change through the client configuration
//! endpoint is one statement (or one transaction) conditional on the token hash it was
//! authorised with, so two concurrent updates with one token cannot both succeed.

use super::{Store, StoreError, StoreResult, client_from_row};
use crate::clock::UnixTime;
use crate::model::Client;
use sqlx::Row;

impl Store {
    /// Stores a client registered through the registration endpoint with the hash of its
    /// registration access token. It names only existing scopes, so none are created.
    pub async fn insert_dynamic_client(
        &self,
        c: &Client,
        registration_token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        self.insert_client_row(c, &[], Some(registration_token_hash), now)
            .await
    }

    /// A dynamically registered client and its registration token hash; `None` for an unknown
    /// client or one an administrator created.
    pub async fn find_dynamic_client(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<(Client, String)>> {
        let row = sqlx::query("SELECT client_id, secret_hash, secret_sealed, metadata, created_at, registration_token_hash FROM clients WHERE client_id = $1 AND registration_token_hash IS NOT NULL")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((client_from_row(&r)?, r.try_get("registration_token_hash")?)))
            .transpose()
    }

    /// Replaces a dynamically registered client's metadata and credentials and its registration
    /// token hash, if its token hash is still `expected_token_hash`. Returns whether it was.
    pub async fn replace_dynamic_client(
        &self,
        c: &Client,
        expected_token_hash: &str,
        new_token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let metadata =
            serde_json::to_string(&c.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _write = self.write_guard().await;
        let r = sqlx::query(
            "UPDATE clients SET metadata = $1, secret_hash = $2, secret_sealed = $3, registration_token_hash = $4, updated_at = $5 WHERE client_id = $6 AND registration_token_hash = $7",
        )
        .bind(metadata)
        .bind(c.secret_hash.as_deref())
        .bind(c.secret_sealed.as_deref())
        .bind(new_token_hash)
        .bind(now)
        .bind(&c.client_id)
        .bind(expected_token_hash)
        .execute(&self.pool)
        .await?;
        self.cache.clear();
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a dynamically registered client whose token hash is `expected_token_hash`, with
    /// everything it was granted (see [`delete_client`](Self::delete_client)). Returns whether it
    /// was deleted.
    pub async fn delete_dynamic_client(
        &self,
        client_id: &str,
        expected_token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.delete_client_where(client_id, Some(expected_token_hash), now)
            .await
    }

    /// Deletes a client in one transaction with everything it was granted: its grants are
    /// revoked (so every token it holds is inactive at once), and its remembered consents, unused
    /// authorization codes and pushed requests are deleted. Returns whether it existed.
    pub async fn delete_client(&self, client_id: &str, now: UnixTime) -> StoreResult<bool> {
        self.delete_client_where(client_id, None, now).await
    }

    async fn delete_client_where(
        &self,
        client_id: &str,
        expected_token_hash: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let r = match expected_token_hash {
            Some(hash) => {
                sqlx::query(
                    "DELETE FROM clients WHERE client_id = $1 AND registration_token_hash = $2",
                )
                .bind(client_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?
            }
            None => {
                sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?
            }
        };
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        for sql in [
            "DELETE FROM consents WHERE client_id = $1",
            "DELETE FROM authorization_codes WHERE client_id = $1",
            "DELETE FROM pushed_requests WHERE client_id = $1",
        ] {
            sqlx::query(sql).bind(client_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.cache.clear();
        Ok(true)
    }
}
