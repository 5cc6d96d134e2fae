//! Storage of the audit log (migration 0018): appended by every administrative change, read
//! newest first with filters.

use super::{Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use sqlx::Row;

/// One recorded change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the log (grows with every entry).
    pub id: i64,
    /// When.
    pub at: UnixTime,
    /// The admin client that made the change.
    pub actor_client: String,
    /// The user the admin client's token was issued for, if any.
    pub actor_user: Option<String>,
    /// What was done (`client.create`, `config.patch`, ...).
    pub action: String,
    /// The kind of resource (`clients`, `scopes`, `keys`, `sessions`, `config`).
    pub resource: String,
    /// Which one.
    pub resource_id: String,
    /// Its representation before the change (secrets masked); none for a creation.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// Its representation after the change (secrets masked); none for a deletion.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// Which entries to read.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    /// Only this kind of resource.
    pub resource: Option<String>,
    /// Only this resource id.
    pub resource_id: Option<String>,
    /// Only this admin client's changes.
    pub actor_client: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<UnixTime>,
}

/// The filters of [`Store::list_audit`]: every one is bound, and an absent one matches all.
macro_rules! audit_where {
    () => {
        "WHERE ($1 IS NULL OR resource = $1) AND ($2 IS NULL OR resource_id = $2) AND ($3 IS NULL OR actor_client = $3) AND at >= $4"
    };
}

impl Store {
    /// Appends an entry (its `id` is assigned here and ignored).
    pub async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        sqlx::query(
            "INSERT INTO audit_log (at, actor_client, actor_user, action, resource, resource_id, before_state, after_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.at)
        .bind(&e.actor_client)
        .bind(e.actor_user.as_deref())
        .bind(&e.action)
        .bind(&e.resource)
        .bind(&e.resource_id)
        .bind(text(&e.before))
        .bind(text(&e.after))
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// The entries `q` selects, newest first, `limit` of them after skipping `offset`, and how
    /// many it selects in all.
    pub async fn list_audit(
        &self,
        q: &AuditQuery,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<AuditEntry>, u64)> {
        let since = q.since.unwrap_or(i64::MIN);
        let total: i64 =
            sqlx::query_scalar(concat!("SELECT COUNT(*) FROM audit_log ", audit_where!()))
                .bind(q.resource.as_deref())
                .bind(q.resource_id.as_deref())
                .bind(q.actor_client.as_deref())
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(concat!(
            "SELECT id, at, actor_client, actor_user, action, resource, resource_id, before_state, after_state FROM audit_log ",
            audit_where!(),
            " ORDER BY id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(q.resource.as_deref())
        .bind(q.resource_id.as_deref())
        .bind(q.actor_client.as_deref())
        .bind(since)
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&self.pool)
        .await?;
        let json = |t: Option<String>| -> StoreResult<Option<serde_json::Value>> {
            t.map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("audit_log: {e}")))
        };
        let entries = rows
            .into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor_client: r.try_get("actor_client")?,
                    actor_user: r.try_get("actor_user")?,
                    action: r.try_get("action")?,
                    resource: r.try_get("resource")?,
                    resource_id: r.try_get("resource_id")?,
                    before: json(r.try_get("before_state")?)?,
                    after: json(r.try_get("after_state")?)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((entries, u64::try_from(total).unwrap_or(0)))
    }
}
