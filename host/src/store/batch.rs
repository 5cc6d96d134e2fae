//! Group commit for token writes: one writer takes every write waiting in its queue (up to
//! [`MAX_BATCH`]) and stores them in one transaction. Under load this turns N transactions into
//! one, which is what lets SQLite take thousands of grants and rotations per second on one core;
//! with no load a batch is a single write and nothing waits.
//!
//! Two writers share the queue's types and its semantics:
//! - on a SQLite file, one thread of its own with one `rusqlite` connection kept for good and
//!   three prepared statements (a grant, a rotation, a token) run once per row
//!   (docs/adr/0014-sqlite-writer-thread.md has the design and its measurements);
//! - on PostgreSQL (and an in-memory SQLite database), a tokio task on a pooled sqlx connection
//!   per batch: new grants with one multi-row INSERT per table, rotations with one conditional
//!   UPDATE for all of them.

use super::{StoreError, StoreResult};
use crate::clock::UnixTime;
use crate::model::{Grant, TokenRecord};
use sqlx::{AnyConnection, AnyPool};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// Most writes committed in one transaction (bounded so one batch stays well under SQLite's
/// 32766 bind-parameter limit: 6 per grant + 13 per token, at most 2 tokens per write).
const MAX_BATCH: usize = 128;

/// One queued write.
enum Work {
    /// A new grant and its first tokens.
    Grant {
        grant: Box<Grant>,
        tokens: Vec<TokenRecord>,
    },
    /// A refresh token to consume and its successors to store, if it was not consumed yet.
    Rotate {
        token_hash: String,
        now: UnixTime,
        successors: Vec<TokenRecord>,
    },
}

struct Job {
    work: Work,
    /// `true` when the write took place (always, for a grant).
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub struct GrantWriter {
    tx: mpsc::Sender<Job>,
}

impl GrantWriter {
    /// Starts the writer: its own thread on the SQLite file `sqlite` (opened with `pragmas`),
    /// otherwise a task on `pool`. It ends when every handle is dropped.
    pub fn spawn(
        pool: AnyPool,
        write_lock: Option<super::WriteLock>,
        sqlite: Option<SqliteFile>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        match sqlite {
            Some(file) => {
                // The checkpoint thread ends when the writer thread does (its sender dropped).
                let (checkpoints_go_on, stop) = std::sync::mpsc::channel::<()>();
                super::checkpoint::spawn(
                    file.clone(),
                    write_lock.clone(),
                    stop,
                    super::checkpoint::Tuning::default(),
                )?;
                std::thread::Builder::new()
                    .name("tessera-writer".into())
                    .spawn(move || {
                        let _checkpoints_go_on = checkpoints_go_on;
                        run_sqlite(file, rx, write_lock);
                    })?;
            }
            None => {
                tokio::spawn(run(pool, rx, write_lock));
            }
        }
        Ok(Self { tx })
    }

    /// Queues a grant and its tokens and waits until they are committed (or failed).
    pub async fn write(&self, grant: Grant, tokens: Vec<TokenRecord>) -> StoreResult<()> {
        self.submit(Work::Grant {
            grant: Box::new(grant),
            tokens,
        })
        .await
        .map(drop)
    }

    /// Queues a rotation: marks the refresh token `token_hash` consumed and stores its
    /// successors, atomically. `false` (nothing stored) if it was consumed already, also by a
    /// rotation in the same batch or on another replica.
    pub async fn rotate(
        &self,
        token_hash: String,
        now: UnixTime,
        successors: Vec<TokenRecord>,
    ) -> StoreResult<bool> {
        self.submit(Work::Rotate {
            token_hash,
            now,
            successors,
        })
        .await
    }

    async fn submit(&self, work: Work) -> StoreResult<bool> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { work, reply })
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
        // A pooled connection per batch, returned after it. Keeping one connection for good kept
        // its page cache warm, but its cached statements grew the process by ~16 MiB under load,
        // which plugin_faults' memory check caught; see issue 13's notes.
        let mut conn = match pool.acquire().await {
            Ok(c) => c,
            Err(e) => {
                fail_all(&mut batch, &StoreError::from(e));
                continue;
            }
        };
        let c: &mut AnyConnection = &mut conn;
        match write(c, &batch).await {
            Ok(done) => reply_each(&mut batch, done),
            // One bad row (a duplicate id) must not fail its neighbours: retry each alone.
            Err(_) if batch.len() > 1 => {
                for job in batch.drain(..) {
                    let r = write(c, std::slice::from_ref(&job)).await;
                    reply_alone(job, r);
                }
            }
            Err(e) => fail_all(&mut batch, &e),
        }
    }
}

/// The SQLite file the writer thread opens, and the pragmas every connection to it gets.
#[derive(Debug, Clone)]
pub(super) struct SqliteFile {
    /// The file's path.
    pub path: String,
    /// `journal_mode`, `synchronous`, `busy_timeout`, `foreign_keys`: the pool's own.
    pub pragmas: &'static str,
}

impl SqliteFile {
    /// A connection with the pool's pragmas that leaves checkpoints to the checkpoint thread
    /// (`store/checkpoint.rs`).
    pub fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        let conn = rusqlite::Connection::open(&self.path)?;
        conn.execute_batch(self.pragmas)?;
        conn.execute_batch(NO_AUTOCHECKPOINT)?;
        Ok(conn)
    }
}

/// Every connection of a process with a checkpoint thread leaves checkpoints to it.
pub(super) const NO_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint=0;";

/// The writer thread: takes what is queued, up to [`MAX_BATCH`], and commits it on its one
/// connection. Keeping the connection keeps its page cache: a pooled connection per batch found
/// its cache emptied by the previous batch's commit on another connection and read its index
/// pages again (8.5 reads and 35 KB per token against 1.2 and 5 KB).
fn run_sqlite(file: SqliteFile, mut rx: mpsc::Receiver<Job>, write_lock: Option<super::WriteLock>) {
    let mut conn: Option<rusqlite::Connection> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        // Let the request threads run before taking the rest. Where they share this thread's
        // core, the first job's wake-up would otherwise run the writer at once, for a batch of
        // one or two; after the yield they have queued what they were working on (an average
        // batch of 20, not 3, at 11k tokens/s on one core: ADR 0014). With a core to spare, the
        // yield returns at once.
        std::thread::yield_now();
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let _guard = write_lock.as_ref().map(|l| l.blocking_lock());
        let c = match &mut conn {
            Some(c) => c,
            None => match file.open() {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::error!(error = %e, "opening the SQLite writer connection");
                    fail_all(&mut batch, &StoreError::Sqlite(e));
                    continue;
                }
            },
        };
        match write_sqlite(c, &batch) {
            Ok(done) => reply_each(&mut batch, done),
            // One bad row (a duplicate id) must not fail its neighbours: retry each alone.
            Err(_) if batch.len() > 1 => {
                for job in batch.drain(..) {
                    let r = write_sqlite(c, std::slice::from_ref(&job));
                    reply_alone(job, r);
                }
            }
            Err(e) => fail_all(&mut batch, &e),
        }
    }
}

/// Writes `jobs` in one transaction on the writer thread's connection; for each, whether it
/// took place. A rotation consumes its token only if no earlier row (in this batch, an earlier
/// one, or another process's) did.
fn write_sqlite(conn: &mut rusqlite::Connection, jobs: &[Job]) -> StoreResult<Vec<bool>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut done = Vec::with_capacity(jobs.len());
    {
        let mut insert_grant = tx.prepare_cached(
            "INSERT INTO grants (grant_id, client_id, subject, grant_type, scope, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut consume = tx.prepare_cached(
            "UPDATE tokens SET consumed_at = ?1 WHERE kind = 'refresh_token' AND consumed_at IS NULL AND token_hash = ?2",
        )?;
        let mut insert_token = tx.prepare_cached(
            "INSERT INTO tokens (token_hash, grant_id, kind, format, jti, client_id, subject, scope, audience, issued_at, expires_at, claims, jkt) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for job in jobs {
            let (took_place, tokens) = match &job.work {
                Work::Grant { grant: g, tokens } => {
                    insert_grant
                        .execute(rusqlite::params![
                            g.grant_id,
                            g.client_id,
                            g.subject,
                            g.grant_type,
                            g.scope,
                            g.created_at,
                        ])
                        .map_err(StoreError::from_sqlite_write)?;
                    (true, tokens)
                }
                Work::Rotate {
                    token_hash,
                    now,
                    successors,
                } => (
                    consume.execute(rusqlite::params![now, token_hash])? == 1,
                    successors,
                ),
            };
            if took_place {
                for t in tokens {
                    let audience = serde_json::to_string(&t.audience)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    insert_token
                        .execute(rusqlite::params![
                            t.token_hash,
                            t.grant_id,
                            t.kind.as_str(),
                            t.format,
                            t.jti,
                            t.client_id,
                            t.subject,
                            t.scope,
                            audience,
                            t.issued_at,
                            t.expires_at,
                            t.claims,
                            t.jkt,
                        ])
                        .map_err(StoreError::from_sqlite_write)?;
                }
            }
            done.push(took_place);
        }
    }
    tx.commit()?;
    Ok(done)
}

/// Answers every job in `batch` with whether its write took place.
fn reply_each(batch: &mut Vec<Job>, done: Vec<bool>) {
    for (job, done) in batch.drain(..).zip(done) {
        let _ = job.reply.send(Ok(done));
    }
}

/// Answers `job`, written in a batch of its own, with that batch's outcome.
fn reply_alone(job: Job, r: StoreResult<Vec<bool>>) {
    let _ = job
        .reply
        .send(r.map(|d| d.first().copied().unwrap_or(false)));
}

/// Answers every job in `batch` with `e`.
fn fail_all(batch: &mut Vec<Job>, e: &StoreError) {
    for job in batch.drain(..) {
        let _ = job.reply.send(Err(clone_err(e)));
    }
}

fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict => StoreError::Conflict,
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Database(d) => StoreError::Database(sqlx::Error::Protocol(d.to_string())),
        StoreError::Sqlite(d) => StoreError::Database(sqlx::Error::Protocol(d.to_string())),
    }
}

/// How the connection's placeholders are written. PostgreSQL needs `$N`. SQLite gets anonymous
/// `?`: sqlx-sqlite looks up the name of every numbered parameter while binding, a linear scan of
/// the statement's names, so a 1,600-parameter batch INSERT bound in quadratic time (4% of the
/// server's CPU in a client_credentials profile).
#[derive(Clone, Copy)]
struct Placeholders {
    numbered: bool,
}

impl Placeholders {
    fn of(conn: &sqlx::AnyConnection) -> Self {
        Self {
            numbered: conn.backend_name() != "SQLite",
        }
    }

    fn push(self, out: &mut String, i: usize) {
        if self.numbered {
            out.push('$');
            out.push_str(&i.to_string());
        } else {
            out.push('?');
        }
    }

    /// `($1, $2, ...), ($n+1, ...)` (or `?`s): placeholders only, no data, so the SQL is safe
    /// to build.
    fn values(self, rows: usize, cols: usize) -> String {
        let mut out = String::with_capacity(rows * cols * 5);
        for r in 0..rows {
            out.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..cols {
                if c > 0 {
                    out.push_str(", ");
                }
                self.push(&mut out, r * cols + c + 1);
            }
            out.push(')');
        }
        out
    }

    /// `$first, $first+1, ...` (or `?`s): `n` placeholders for an `IN` list.
    fn list(self, first: usize, n: usize) -> String {
        let mut out = String::with_capacity(n * 5);
        for i in first..first + n {
            if i > first {
                out.push_str(", ");
            }
            self.push(&mut out, i);
        }
        out
    }
}

/// Writes `jobs` in one transaction on `conn`; for each, whether it took place.
async fn write(conn: &mut AnyConnection, jobs: &[Job]) -> StoreResult<Vec<bool>> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let ph = Placeholders::of(&tx);
    let grants: Vec<&Grant> = jobs
        .iter()
        .filter_map(|j| match &j.work {
            Work::Grant { grant, .. } => Some(grant.as_ref()),
            Work::Rotate { .. } => None,
        })
        .collect();
    if !grants.is_empty() {
        let sql = format!(
            "INSERT INTO grants (grant_id, client_id, subject, grant_type, scope, created_at) VALUES {}",
            ph.values(grants.len(), 6)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
        for g in grants {
            q = q
                .bind(g.grant_id.as_str())
                .bind(g.client_id.as_str())
                .bind(g.subject.as_deref())
                .bind(g.grant_type.as_str())
                .bind(g.scope.as_str())
                .bind(g.created_at);
        }
        q.execute(&mut *tx).await.map_err(StoreError::from_write)?;
    }

    // Every rotation in one conditional UPDATE; a token named twice in the batch goes to the
    // first job that names it (the second is a second use).
    let rotations: Vec<(&str, UnixTime)> = jobs
        .iter()
        .filter_map(|j| match &j.work {
            Work::Rotate {
                token_hash, now, ..
            } => Some((token_hash.as_str(), *now)),
            Work::Grant { .. } => None,
        })
        .collect();
    let mut consumed: HashSet<String> = HashSet::new();
    if let Some(now) = rotations.iter().map(|(_, now)| *now).max() {
        let sql = format!(
            "UPDATE tokens SET consumed_at = {} WHERE kind = 'refresh_token' AND consumed_at IS NULL AND token_hash IN ({}) RETURNING token_hash",
            ph.list(1, 1),
            ph.list(2, rotations.len())
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(now);
        for (hash, _) in &rotations {
            q = q.bind(*hash);
        }
        consumed = q.fetch_all(&mut *tx).await?.into_iter().collect();
    }
    let done: Vec<bool> = jobs
        .iter()
        .map(|j| match &j.work {
            Work::Grant { .. } => true,
            Work::Rotate { token_hash, .. } => consumed.remove(token_hash),
        })
        .collect();

    let tokens: Vec<&TokenRecord> = jobs
        .iter()
        .zip(&done)
        .filter(|(_, done)| **done)
        .flat_map(|(j, _)| match &j.work {
            Work::Grant { tokens, .. } => tokens.iter(),
            Work::Rotate { successors, .. } => successors.iter(),
        })
        .collect();
    insert_tokens(&mut tx, &tokens).await?;
    tx.commit().await?;
    Ok(done)
}

/// Inserts `tokens` with one multi-row INSERT inside `tx`.
pub(super) async fn insert_tokens(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tokens: &[&TokenRecord],
) -> StoreResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO tokens (token_hash, grant_id, kind, format, jti, client_id, subject, scope, audience, issued_at, expires_at, claims, jkt) VALUES {}",
        Placeholders::of(tx).values(tokens.len(), 13)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
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
        let pg = super::Placeholders { numbered: true };
        assert_eq!(pg.values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(pg.list(2, 3), "$2, $3, $4");
        let sqlite = super::Placeholders { numbered: false };
        assert_eq!(sqlite.values(2, 2), "(?, ?), (?, ?)");
        assert_eq!(sqlite.list(2, 3), "?, ?, ?");
    }
}
