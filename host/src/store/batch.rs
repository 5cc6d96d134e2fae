//! Group commit for new grants: one writer task takes every grant waiting in its queue (up to
//! [`MAX_BATCH`]) and stores them with one multi-row INSERT per table in one transaction. Under
//! load this turns N transactions into one, which is what lets SQLite take thousands of grants
//! per second on one core; with no load a batch is a single grant and nothing waits.

use super::{StoreError, StoreResult};
use crate::model::{Grant, TokenRecord};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

/// Most grants committed in one transaction (bounded so one batch stays well under SQLite's
/// 32766 bind-parameter limit: 6 per grant + 11 per token).
const MAX_BATCH: usize = 128;

struct Job {
    grant: Grant,
    tokens: Vec<TokenRecord>,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub struct GrantWriter {
    tx: mpsc::Sender<Job>,
}

impl GrantWriter {
    /// Starts the writer task on `pool`; it ends when every handle is dropped.
    pub fn spawn(pool: AnyPool, write_lock: Option<super::WriteLock>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, rx, write_lock));
        Self { tx }
    }

    /// Queues a grant and its tokens and waits until they are committed (or failed).
    pub async fn write(&self, grant: Grant, tokens: Vec<TokenRecord>) -> StoreResult<()> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                grant,
                tokens,
                reply,
            })
            .await
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Job>, write_lock: Option<super::WriteLock>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _guard = match &write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        match write(&pool, &batch).await {
            Ok(()) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Ok(()));
                }
            }
            // One bad row (a duplicate id) must not fail its neighbours: retry each alone.
            Err(_) if batch.len() > 1 => {
                for job in batch.drain(..) {
                    let r = write(&pool, std::slice::from_ref(&job)).await;
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(clone_err(&e)));
                }
            }
        }
    }
}

fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict => StoreError::Conflict,
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Database(d) => StoreError::Database(sqlx::Error::Protocol(d.to_string())),
    }
}

/// `($1, $2, ...), ($n+1, ...)`: placeholders only, no data, so the SQL is safe to build.
fn values(rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * cols + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

async fn write(pool: &AnyPool, jobs: &[Job]) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "INSERT INTO grants (grant_id, client_id, subject, grant_type, scope, created_at) VALUES {}",
        values(jobs.len(), 6)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for j in jobs {
        let g = &j.grant;
        q = q
            .bind(g.grant_id.as_str())
            .bind(g.client_id.as_str())
            .bind(g.subject.as_deref())
            .bind(g.grant_type.as_str())
            .bind(g.scope.as_str())
            .bind(g.created_at);
    }
    q.execute(&mut *tx).await.map_err(StoreError::from_write)?;

    let tokens: Vec<&TokenRecord> = jobs.iter().flat_map(|j| j.tokens.iter()).collect();
    insert_tokens(&mut tx, &tokens).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts `tokens` with one multi-row INSERT inside `tx`.
pub(super) async fn insert_tokens(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tokens: &[&TokenRecord],
) -> StoreResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO tokens (token_hash, grant_id, kind, format, jti, client_id, subject, scope, audience, issued_at, expires_at, claims, jkt) VALUES {}",
        values(tokens.len(), 13)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for t in tokens {
        let audience =
            serde_json::to_string(&t.audience).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        q = q
            .bind(t.token_hash.as_str())
            .bind(t.grant_id.as_str())
            .bind(t.kind.as_str())
            .bind(t.format.as_str())
            .bind(t.jti.as_deref())
            .bind(t.client_id.as_str())
            .bind(t.subject.as_deref())
            .bind(t.scope.as_str())
            .bind(audience)
            .bind(t.issued_at)
            .bind(t.expires_at)
            .bind(t.claims.as_deref())
            .bind(t.jkt.as_deref());
    }
    q.execute(&mut **tx).await.map_err(StoreError::from_write)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders() {
        assert_eq!(super::values(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
