//! Storage: one code base over SQLite (embedded default, WAL) and PostgreSQL, chosen by URL.
//! This is the only module that speaks SQL; every write that must be atomic is one transaction.

mod audit;
mod batch;
mod browser;
mod cache;
mod checkpoint;
mod device;
mod migrate;
mod plugins;
mod reader;
mod registration;
mod server_config;
mod ssa;
mod stats;

pub use audit::{AuditEntry, AuditQuery};
pub use browser::{CodeRow, ConsentRow, PendingRow, PushedRow, SessionRow};
pub use device::DeviceRow;
pub use plugins::PluginRow;
pub use server_config::ConfigRow;
pub use ssa::SsaRow;

use crate::clock::UnixTime;
use crate::model::{Client, ClientMetadata, Grant, TokenKind, TokenRecord};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Arc;
use std::time::Duration;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists.
    #[error("conflict: row already exists")]
    Conflict,
    /// A stored value could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A read on the calling thread failed (SQLite only, see `store/reader.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    fn from_write(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(e),
        }
    }

    /// [`from_write`](Self::from_write) for the SQLite writer thread's own connection.
    fn from_sqlite_write(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Conflict
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A column value type both sqlx (through `Any`) and the calling-thread SQLite reader decode.
pub(crate) trait Col:
    for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}
impl<T> Col for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> + rusqlite::types::FromSql
{
}

/// A row whose columns are read by name: a sqlx row or a calling-thread reader's row, so that
/// one mapping serves both.
pub(crate) trait Columns {
    /// The value of column `name`.
    fn col<T: Col>(&self, name: &str) -> StoreResult<T>;
}

impl Columns for AnyRow {
    fn col<T: Col>(&self, name: &str) -> StoreResult<T> {
        Ok(self.try_get(name)?)
    }
}

/// A value made from one row.
pub(crate) trait FromColumns: Sized {
    /// Maps `r`.
    fn from_columns(r: &impl Columns) -> StoreResult<Self>;
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The database handle.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    grants: batch::GrantWriter,
    /// SQLite has one writer at a time and its busy handler makes waiters sleep and retry; queueing
    /// writers here instead keeps write latency flat under load. `None` for PostgreSQL.
    write_lock: Option<WriteLock>,
    /// Clients and scopes, invalidated on change (see `store/cache.rs`).
    cache: std::sync::Arc<cache::Cache>,
    /// The connection URL, for the change watcher's own `LISTEN` connection.
    url: std::sync::Arc<str>,
    /// Point reads on the calling thread (a SQLite file only; `None` otherwise).
    readers: Option<std::sync::Arc<reader::Readers>>,
}

/// Serialises SQLite write transactions inside the process.
pub(crate) type WriteLock = std::sync::Arc<tokio::sync::Mutex<()>>;

/// A stored signing key (private half sealed with the master key).
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// `active` or `retiring`.
    pub status: String,
    /// Sealed PKCS#8 DER.
    pub private_key: String,
    /// Public JWK, JSON.
    pub public_jwk: String,
    /// Creation time.
    pub created_at: UnixTime,
    /// When a retiring key leaves the JWKS.
    pub retire_at: Option<UnixTime>,
    /// When the key starts signing (`None`: from `created_at`). It is published from creation.
    pub sign_from: Option<UnixTime>,
}

impl SigningKeyRow {
    /// When the key starts signing.
    pub fn signs_from(&self) -> UnixTime {
        self.sign_from.unwrap_or(self.created_at)
    }
}

/// A stored scope (seed 001: id, description, type, claims, default flag, creator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRow {
    /// The scope value.
    pub scope_id: String,
    /// `openid`, `oauth`, `dynamic`, `spontaneous`, `uma` (see [`crate::model::ScopeType`]).
    pub scope_type: String,
    /// Shown on consent.
    pub description: String,
    /// Claims released by it (user attribute names).
    pub claims: Vec<String>,
    /// Added to dynamically registered clients that name no scopes.
    pub default_scope: bool,
    /// `user` (an administrator), `client` (a spontaneous scope) or `auto` (UMA).
    pub creator: String,
    /// The client that created a spontaneous scope.
    pub creator_id: Option<String>,
}

impl ScopeRow {
    /// A scope of `scope_type` made by an administrator, with no description or claims.
    pub fn new(scope_id: impl Into<String>, scope_type: impl Into<String>) -> Self {
        Self {
            scope_id: scope_id.into(),
            scope_type: scope_type.into(),
            description: String::new(),
            claims: Vec::new(),
            default_scope: false,
            creator: "user".into(),
            creator_id: None,
        }
    }
}

impl Store {
    /// Opens the configured database (`database_url`, `database_sqlite_synchronous`) with up
    /// to `max_connections` pooled connections, and runs migrations.
    pub async fn open(
        settings: &crate::config::Settings,
        max_connections: u32,
    ) -> anyhow::Result<Self> {
        Self::connect_with(
            &settings.database_url.0,
            max_connections,
            settings.database_sqlite_synchronous,
        )
        .await
    }

    /// Connects (creating the SQLite file and its directory when needed) and runs migrations,
    /// with SQLite's default `synchronous=NORMAL`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::connect_with(
            url,
            max_connections,
            crate::config::SqliteSynchronous::Normal,
        )
        .await
    }

    async fn connect_with(
        url: &str,
        max_connections: u32,
        synchronous: crate::config::SqliteSynchronous,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let pragmas: &'static str = match synchronous {
            crate::config::SqliteSynchronous::Normal => {
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
            }
            crate::config::SqliteSynchronous::Full => {
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
            }
        };
        sqlx::any::install_default_drivers();
        let (url, backend) = if url.starts_with("sqlite:") {
            (sqlite_url(url)?, Backend::Sqlite)
        } else {
            (url.to_string(), Backend::Postgres)
        };
        // A SQLite file (not an in-memory database) gets a writer thread and a checkpoint thread
        // of its own, and reads on the calling thread.
        let readers = match backend {
            Backend::Sqlite => reader::Readers::new(sqlite_path(&url)).map(std::sync::Arc::new),
            Backend::Postgres => None,
        };
        let checkpointed = readers.is_some();
        let opts = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; NORMAL syncs at checkpoints, which in
                        // WAL mode survives a crash of the process but may lose the last commits on
                        // power loss; FULL syncs every commit (see docs/adr/0002-storage.md);
                        // busy_timeout makes concurrent writers queue instead of failing.
                        sqlx::raw_sql(pragmas).execute(&mut *conn).await?;
                        if checkpointed {
                            sqlx::raw_sql(batch::NO_AUTOCHECKPOINT)
                                .execute(conn)
                                .await?;
                        }
                    }
                    Ok(())
                })
            });
        let pool = opts
            .connect(&url)
            .await
            .with_context(|| format!("connecting to the {backend:?} database"))?;
        let write_lock = (backend == Backend::Sqlite).then(WriteLock::default);
        let sqlite_file = readers.as_ref().map(|_| batch::SqliteFile {
            path: sqlite_path(&url).to_string(),
            pragmas,
        });
        let grants = batch::GrantWriter::spawn(pool.clone(), write_lock.clone(), sqlite_file)
            .context("starting the token writer")?;
        let store = Self {
            pool,
            backend,
            grants,
            write_lock,
            cache: Default::default(),
            url: url.into(),
            readers,
        };
        migrate::run(&store)
            .await
            .context("running database migrations")?;
        Ok(store)
    }

    /// Starts watching for client and scope changes made by other processes (another replica,
    /// the offline CLI), which clear this process's cache. A server calls it once at start; a
    /// short-lived command does not need it. Calling it again does nothing.
    pub fn watch_changes(&self) {
        cache::watch(&self.cache, self.pool.clone(), self.backend, &self.url);
    }

    /// Holds SQLite's in-process write lock (nothing on PostgreSQL) for one write transaction.
    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await.is_ok()
    }

    /// Pooled connections: open, and idle among them.
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// Browser sessions that have not expired.
    pub async fn count_active_sessions(&self, now: UnixTime) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
                .bind(now)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- clients ----

    /// Stores a new client and the scopes it names that do not exist yet, in one transaction:
    /// a client that cannot be stored leaves no scopes behind.
    pub async fn insert_client(
        &self,
        c: &Client,
        new_scopes: &[ScopeRow],
        now: UnixTime,
    ) -> StoreResult<()> {
        self.insert_client_row(c, new_scopes, None, now).await
    }

    /// [`insert_client`](Self::insert_client), with the hash of the registration access token of
    /// a dynamically registered client (RFC 7592).
    async fn insert_client_row(
        &self,
        c: &Client,
        new_scopes: &[ScopeRow],
        registration_token_hash: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<()> {
        let metadata =
            serde_json::to_string(&c.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        for s in new_scopes {
            insert_scope_if_absent(&mut tx, s, now).await?;
        }
        sqlx::query(
            "INSERT INTO clients (client_id, secret_hash, secret_sealed, metadata, created_at, updated_at, registration_token_hash) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(&c.client_id)
        .bind(c.secret_hash.as_deref())
        .bind(c.secret_sealed.as_deref())
        .bind(metadata)
        .bind(c.created_at)
        .bind(registration_token_hash)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        tx.commit().await?;
        self.cache.clear();
        Ok(())
    }

    /// Replaces a client's metadata.
    pub async fn update_client_metadata(
        &self,
        client_id: &str,
        m: &ClientMetadata,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let metadata = serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let r =
            sqlx::query("UPDATE clients SET metadata = $1, updated_at = $2 WHERE client_id = $3")
                .bind(metadata)
                .bind(now)
                .bind(client_id)
                .execute(&self.pool)
                .await?;
        self.cache.clear();
        Ok(r.rows_affected() == 1)
    }

    /// Finds a client (from the cache when it holds it).
    pub async fn find_client(&self, client_id: &str) -> StoreResult<Option<Arc<Client>>> {
        if let Some(c) = self.cache.client(client_id) {
            return Ok(Some(c));
        }
        let epoch = self.cache.epoch();
        let row = sqlx::query("SELECT client_id, secret_hash, secret_sealed, metadata, created_at FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        let client = row.map(|r| client_from_row(&r).map(Arc::new)).transpose()?;
        if let Some(c) = &client {
            self.cache.put_client(epoch, c);
        }
        Ok(client)
    }

    /// A client with its metadata exactly as stored: the text an administrator's conditional
    /// update ([`replace_client_if`](Self::replace_client_if)) compares against. Never cached.
    pub async fn find_client_stored(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<(Client, String)>> {
        let row = sqlx::query("SELECT client_id, secret_hash, secret_sealed, metadata, created_at FROM clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((client_from_row(&r)?, r.try_get("metadata")?)))
            .transpose()
    }

    /// Replaces a client's metadata and credentials if its stored metadata is still
    /// `expected_metadata` (no other writer changed it since it was read), and stores the
    /// scopes it names that do not exist yet, in one transaction. Returns whether it replaced.
    pub async fn replace_client_if(
        &self,
        c: &Client,
        expected_metadata: &str,
        new_scopes: &[ScopeRow],
        now: UnixTime,
    ) -> StoreResult<bool> {
        let metadata =
            serde_json::to_string(&c.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE clients SET metadata = $1, secret_hash = $2, secret_sealed = $3, updated_at = $4 WHERE client_id = $5 AND metadata = $6",
        )
        .bind(metadata)
        .bind(c.secret_hash.as_deref())
        .bind(c.secret_sealed.as_deref())
        .bind(now)
        .bind(&c.client_id)
        .bind(expected_metadata)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        for s in new_scopes {
            insert_scope_if_absent(&mut tx, s, now).await?;
        }
        tx.commit().await?;
        self.cache.clear();
        Ok(true)
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query("SELECT client_id, secret_hash, secret_sealed, metadata, created_at FROM clients ORDER BY created_at, client_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(client_from_row).collect()
    }

    // ---- scopes ----

    /// Every scope, by id (from the cache when it holds them).
    pub async fn list_scopes(&self) -> StoreResult<std::sync::Arc<Vec<ScopeRow>>> {
        if let Some(s) = self.cache.scopes() {
            return Ok(s);
        }
        let epoch = self.cache.epoch();
        let rows = sqlx::query("SELECT scope_id, scope_type, description, claims, is_default, creator, creator_id FROM scopes ORDER BY scope_id")
            .fetch_all(&self.pool)
            .await?;
        let scopes = std::sync::Arc::new(
            rows.iter()
                .map(scope_from_row)
                .collect::<StoreResult<Vec<_>>>()?,
        );
        self.cache.put_scopes(epoch, scopes.clone());
        Ok(scopes)
    }

    /// One scope.
    pub async fn find_scope(&self, scope_id: &str) -> StoreResult<Option<ScopeRow>> {
        let row = sqlx::query("SELECT scope_id, scope_type, description, claims, is_default, creator, creator_id FROM scopes WHERE scope_id = $1")
        .bind(scope_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(scope_from_row).transpose()
    }

    /// Adds a scope unless it exists; returns whether it was added.
    pub async fn ensure_scope(&self, s: &ScopeRow, now: UnixTime) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let added = insert_scope_if_absent(&mut tx, s, now).await?;
        tx.commit().await?;
        if added {
            self.cache.clear();
        }
        Ok(added)
    }

    /// Adds a new scope; [`StoreError::Conflict`] when its id exists.
    pub async fn insert_scope(&self, s: &ScopeRow, now: UnixTime) -> StoreResult<()> {
        if self.ensure_scope(s, now).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Replaces a scope's description, claims and default flag (its id, type and creator stay)
    /// if they are still those of `expected` (no other writer changed them since it was read);
    /// returns whether it replaced.
    pub async fn update_scope(
        &self,
        s: &ScopeRow,
        expected: &ScopeRow,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let json = |c: &Vec<String>| {
            serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        let r = sqlx::query(
            "UPDATE scopes SET description = $1, claims = $2, is_default = $3, updated_at = $4 WHERE scope_id = $5 AND description = $6 AND claims = $7 AND is_default = $8",
        )
        .bind(&s.description)
        .bind(json(&s.claims)?)
        .bind(i64::from(s.default_scope))
        .bind(now)
        .bind(&s.scope_id)
        .bind(&expected.description)
        .bind(json(&expected.claims)?)
        .bind(i64::from(expected.default_scope))
        .execute(&self.pool)
        .await?;
        self.cache.clear();
        Ok(r.rows_affected() == 1)
    }

    /// Deletes a scope; returns whether it existed.
    pub async fn delete_scope(&self, scope_id: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM scopes WHERE scope_id = $1")
            .bind(scope_id)
            .execute(&self.pool)
            .await?;
        self.cache.clear();
        Ok(r.rows_affected() == 1)
    }

    // ---- grants and tokens ----

    /// Stores a grant and its first tokens atomically. Concurrent calls are committed together
    /// in one transaction (group commit, see `store/batch.rs`); each returns once its rows are
    /// committed.
    pub async fn insert_grant_with_tokens(
        &self,
        grant: &Grant,
        tokens: &[TokenRecord],
    ) -> StoreResult<()> {
        self.grants.write(grant.clone(), tokens.to_vec()).await
    }

    /// Finds a token by the hash of its string, with its grant's revocation state.
    pub async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        self.find_by_key(
            "SELECT t.token_hash, t.grant_id, t.kind, t.format, t.jti, t.client_id, t.subject, t.scope, t.audience, \
             t.issued_at, t.expires_at, t.consumed_at, t.claims, t.jkt, COALESCE(g.revoked_at, t.revoked_at) AS revoked_at FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = $1",
            token_hash,
        )
        .await
    }

    /// Finds a token by the hash of its string together with its grant, in one read.
    pub async fn find_token_in_grant(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(TokenRecord, Grant)>> {
        self.find_by_key(
            "SELECT t.token_hash, t.grant_id, t.kind, t.format, t.jti, t.client_id, t.subject, t.scope, t.audience, \
             t.issued_at, t.expires_at, t.consumed_at, t.claims, t.jkt, COALESCE(g.revoked_at, t.revoked_at) AS revoked_at, \
             g.grant_id AS g_grant_id, g.client_id AS g_client_id, g.subject AS g_subject, g.grant_type AS g_grant_type, \
             g.scope AS g_scope, g.created_at AS g_created_at, g.user_id AS g_user_id, g.session_id AS g_session_id, \
             g.auth_context AS g_auth_context, g.resources AS g_resources, g.revoked_at AS g_revoked_at \
             FROM tokens t JOIN grants g ON g.grant_id = t.grant_id WHERE t.token_hash = $1",
            token_hash,
        )
        .await
    }

    /// The first row of `sql` with `key` bound to `$1`: on the calling thread for a SQLite
    /// file (`store/reader.rs`), through the pool otherwise.
    pub(crate) async fn find_by_key<T: FromColumns>(
        &self,
        sql: &'static str,
        key: &str,
    ) -> StoreResult<Option<T>> {
        if let Some(readers) = &self.readers {
            return readers.find(sql, key);
        }
        let row = sqlx::query(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| T::from_columns(&r)).transpose()
    }

    /// Revokes a grant (and so every token in it). Returns whether it was live before.
    pub async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(grant_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Revokes every token of `client_id`: with `kind`, only its tokens of that kind (marked one
    /// by one, the grants stay); without, all its grants. Returns how many were live.
    pub async fn revoke_client_tokens(
        &self,
        client_id: &str,
        kind: Option<TokenKind>,
        now: UnixTime,
    ) -> StoreResult<u64> {
        let r = match kind {
            Some(kind) => sqlx::query(
                "UPDATE tokens SET revoked_at = $1 WHERE client_id = $2 AND kind = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(client_id)
            .bind(kind.as_str())
            .execute(&self.pool)
            .await?,
            None => sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(client_id)
            .execute(&self.pool)
            .await?,
        };
        Ok(r.rows_affected())
    }

    /// Revokes every grant of a user and ends every browser session of theirs, in one
    /// transaction. Returns (grants revoked, sessions ended).
    pub async fn revoke_user(&self, user_id: &str, now: UnixTime) -> StoreResult<(u64, u64)> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let grants = sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM session_clients WHERE session_id IN (SELECT session_id FROM sessions WHERE user_id = $1)")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((grants, sessions))
    }

    /// Deletes tokens that expired before `tokens_before` (kept a while so introspection of a
    /// just-expired token still finds it), grants left with no tokens that were revoked or
    /// created before then, and, as soon as they expire (`now`), pending sign-ins, codes, seen
    /// assertion ids, pushed requests and sessions. Returns the number of tokens removed.
    pub async fn purge_expired(&self, tokens_before: UnixTime, now: UnixTime) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM tokens WHERE expires_at < $1")
            .bind(tokens_before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM grants WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.grant_id = grants.grant_id)")
            .bind(tokens_before)
            .execute(&self.pool)
            .await?;
        for sql in [
            "DELETE FROM used_assertions WHERE expires_at < $1",
            "DELETE FROM authorization_codes WHERE expires_at < $1",
            "DELETE FROM pending_authorizations WHERE expires_at < $1",
            "DELETE FROM pushed_requests WHERE expires_at < $1",
            "DELETE FROM device_codes WHERE expires_at < $1",
            "DELETE FROM session_clients WHERE session_id IN (SELECT session_id FROM sessions WHERE expires_at < $1)",
            "DELETE FROM sessions WHERE expires_at < $1",
        ] {
            sqlx::query(sql).bind(now).execute(&self.pool).await?;
        }
        Ok(r.rows_affected())
    }

    // ---- client assertion replay ----

    /// Records a client assertion id; `false` if it was seen before (a replay).
    pub async fn record_assertion(&self, key: &str, expires_at: UnixTime) -> StoreResult<bool> {
        let r = sqlx::query("INSERT INTO used_assertions (assertion_key, expires_at) VALUES ($1, $2) ON CONFLICT (assertion_key) DO NOTHING")
            .bind(key)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- signing keys ----

    /// Every stored signing key.
    pub async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        let rows = sqlx::query("SELECT kid, alg, status, private_key, public_jwk, created_at, retire_at, sign_from FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    status: r.try_get("status")?,
                    private_key: r.try_get("private_key")?,
                    public_jwk: r.try_get("public_jwk")?,
                    created_at: r.try_get("created_at")?,
                    retire_at: r.try_get("retire_at")?,
                    sign_from: r.try_get("sign_from")?,
                })
            })
            .collect()
    }

    /// Stores one signing key.
    pub async fn insert_signing_key(&self, k: &SigningKeyRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_key(&mut tx, k).await?;
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the active keys of the new keys' algorithms retiring (leaving the JWKS at
    /// `retire_at`) and stores the new keys, atomically.
    pub async fn rotate_signing_keys(
        &self,
        new_keys: Vec<SigningKeyRow>,
        retire_at: UnixTime,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for k in &new_keys {
            sqlx::query("UPDATE signing_keys SET status = 'retiring', retire_at = $1 WHERE status = 'active' AND alg = $2")
                .bind(retire_at)
                .bind(&k.alg)
                .execute(&mut *tx)
                .await?;
            insert_key(&mut tx, k).await?;
        }
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a retiring key out of the JWKS now (tokens it signed stop verifying); returns
    /// whether a retiring key `kid` existed. An active key is never retired this way: rotate
    /// first.
    pub async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE signing_keys SET status = 'retired', retire_at = $1 WHERE kid = $2 AND status = 'retiring'",
        )
        .bind(now)
        .bind(kid)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        bump_generation(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The counter bumped by every key change, watched by running servers.
    pub async fn keys_generation(&self) -> StoreResult<i64> {
        let v: String =
            sqlx::query_scalar("SELECT value FROM configuration WHERE name = 'keys_generation'")
                .fetch_one(&self.pool)
                .await?;
        v.parse()
            .map_err(|_| StoreError::Corrupt("keys_generation".into()))
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn insert_key(tx: &mut Tx, k: &SigningKeyRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, status, private_key, public_jwk, created_at, retire_at, sign_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&k.kid)
    .bind(&k.alg)
    .bind(&k.status)
    .bind(&k.private_key)
    .bind(&k.public_jwk)
    .bind(k.created_at)
    .bind(k.retire_at)
    .bind(k.sign_from)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

async fn insert_scope_if_absent(tx: &mut Tx, s: &ScopeRow, now: UnixTime) -> StoreResult<bool> {
    let claims =
        serde_json::to_string(&s.claims).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let r = sqlx::query(
        "INSERT INTO scopes (scope_id, scope_type, description, claims, is_default, creator, creator_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (scope_id) DO NOTHING",
    )
    .bind(&s.scope_id)
    .bind(&s.scope_type)
    .bind(&s.description)
    .bind(claims)
    .bind(i64::from(s.default_scope))
    .bind(&s.creator)
    .bind(s.creator_id.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

fn scope_from_row(r: &AnyRow) -> StoreResult<ScopeRow> {
    let claims: String = r.try_get("claims")?;
    let is_default: i64 = r.try_get("is_default")?;
    Ok(ScopeRow {
        scope_id: r.try_get("scope_id")?,
        scope_type: r.try_get("scope_type")?,
        description: r.try_get("description")?,
        claims: serde_json::from_str(&claims).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        default_scope: is_default != 0,
        creator: r.try_get("creator")?,
        creator_id: r.try_get("creator_id")?,
    })
}

async fn bump_generation(tx: &mut Tx) -> StoreResult<()> {
    // Stored as text so one table serves every configuration value; the cast is portable.
    sqlx::query("UPDATE configuration SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE name = 'keys_generation'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn client_from_row(r: &AnyRow) -> StoreResult<Client> {
    let metadata: String = r.try_get("metadata")?;
    Ok(Client {
        client_id: r.try_get("client_id")?,
        secret_hash: r.try_get("secret_hash")?,
        secret_sealed: r.try_get("secret_sealed")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| StoreError::Corrupt(format!("client metadata: {e}")))?,
        created_at: r.try_get("created_at")?,
    })
}

impl FromColumns for TokenRecord {
    fn from_columns(r: &impl Columns) -> StoreResult<Self> {
        let kind: String = r.col("kind")?;
        let audience: String = r.col("audience")?;
        Ok(TokenRecord {
            token_hash: r.col("token_hash")?,
            grant_id: r.col("grant_id")?,
            kind: TokenKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
            format: r.col("format")?,
            jti: r.col("jti")?,
            client_id: r.col("client_id")?,
            subject: r.col("subject")?,
            scope: r.col("scope")?,
            audience: serde_json::from_str(&audience)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            issued_at: r.col("issued_at")?,
            expires_at: r.col("expires_at")?,
            revoked_at: r.col("revoked_at")?,
            consumed_at: r.col("consumed_at")?,
            claims: r.col("claims")?,
            jkt: r.col("jkt")?,
        })
    }
}

impl FromColumns for (TokenRecord, Grant) {
    fn from_columns(r: &impl Columns) -> StoreResult<Self> {
        let (grant, _) = browser::grant_from_columns(r, &browser::JOINED_GRANT_COLUMNS)?;
        Ok((TokenRecord::from_columns(r)?, grant))
    }
}

/// The file path in a normalised `sqlite://path?query` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite://");
    rest.split_once('?').map_or(rest, |(path, _)| path)
}

/// Normalises a `sqlite:` URL: creates the file's directory and asks SQLite to create the file.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::SqliteSynchronous;

    #[tokio::test]
    async fn the_sqlite_synchronous_property_reaches_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        for (setting, pragma) in [(SqliteSynchronous::Normal, 1), (SqliteSynchronous::Full, 2)] {
            let url = format!("sqlite://{}/{pragma}.db", dir.path().display());
            let store = Store::connect_with(&url, 2, setting).await.unwrap();
            let got: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(got, pragma, "{setting:?}");
            store.close().await;
        }
    }

    fn token(hash: &str, grant: &Grant, kind: TokenKind, now: UnixTime) -> TokenRecord {
        TokenRecord {
            token_hash: hash.into(),
            grant_id: grant.grant_id.clone(),
            kind,
            format: "reference".into(),
            jti: None,
            client_id: grant.client_id.clone(),
            subject: None,
            scope: grant.scope.clone(),
            audience: vec!["c".into()],
            issued_at: now,
            expires_at: now + 600,
            revoked_at: None,
            consumed_at: None,
            claims: None,
            jkt: None,
        }
    }

    /// A pool of one connection serves the group commit and every other query in turn.
    #[tokio::test]
    async fn a_pool_of_one_connection_is_shared_with_the_group_commit() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/one.db", dir.path().display());
        let store = Store::connect(&url, 1).await.unwrap();
        for i in 0..3 {
            let grant = Grant::for_client(
                crate::crypto::secrets::ordered_id(),
                "c".into(),
                "client_credentials",
                "api".into(),
                1_000,
            );
            let t = token(&format!("at-{i}"), &grant, TokenKind::AccessToken, 1_000);
            let written = tokio::time::timeout(
                Duration::from_secs(10),
                store.insert_grant_with_tokens(&grant, std::slice::from_ref(&t)),
            )
            .await
            .expect("the writer got the connection");
            written.unwrap();
            // A query through the pool still gets the one connection.
            let n: i64 = tokio::time::timeout(
                Duration::from_secs(10),
                sqlx::query_scalar("SELECT COUNT(*) FROM tokens").fetch_one(&store.pool),
            )
            .await
            .expect("the pool's connection came back")
            .unwrap();
            assert_eq!(n, i + 1);
        }
    }

    /// A grant whose id exists fails alone with `Conflict`; the grants queued beside it in the
    /// same batch are stored (the SQLite file's writer thread; PostgreSQL's pooled writer is
    /// covered by `tests/`).
    #[tokio::test]
    async fn a_duplicate_grant_fails_alone_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let file = format!("sqlite://{}/dup.db", dir.path().display());
        {
            let url = file.as_str();
            let store = Store::connect(url, 2).await.unwrap();
            assert!(store.readers.is_some(), "a file gets the writer thread");
            let grant = |id: &str| {
                Grant::for_client(
                    id.into(),
                    "c".into(),
                    "client_credentials",
                    "api".into(),
                    1_000,
                )
            };
            let taken = grant("g-taken");
            store
                .insert_grant_with_tokens(
                    &taken,
                    &[token("t-0", &taken, TokenKind::AccessToken, 1_000)],
                )
                .await
                .unwrap();
            let mut calls = tokio::task::JoinSet::new();
            for i in 1..=4 {
                let store = store.clone();
                let id = if i == 3 {
                    "g-taken".to_string()
                } else {
                    format!("g-{i}")
                };
                let g = grant(&id);
                let t = token(&format!("t-{i}"), &g, TokenKind::AccessToken, 1_000);
                calls.spawn(async move { (i, store.insert_grant_with_tokens(&g, &[t]).await) });
            }
            while let Some(r) = calls.join_next().await {
                let (i, r) = r.unwrap();
                if i == 3 {
                    assert!(matches!(r, Err(StoreError::Conflict)), "{url}: {r:?}");
                } else {
                    r.unwrap();
                }
                let stored = store.find_token(&format!("t-{i}")).await.unwrap();
                assert_eq!(stored.is_some(), i != 3, "{url}: token {i}");
            }
            store.close().await;
        }
        // The file's writer thread keeps no state the next process needs: a new store on the
        // same file sees every committed row and writes beside it.
        let store = Store::connect(&file, 2).await.unwrap();
        assert!(store.find_token("t-4").await.unwrap().is_some());
        let g = Grant::for_client(
            "g-5".into(),
            "c".into(),
            "client_credentials",
            "api".into(),
            1_000,
        );
        store
            .insert_grant_with_tokens(&g, &[token("t-5", &g, TokenKind::AccessToken, 1_000)])
            .await
            .unwrap();
        store.close().await;
    }

    /// The group commit takes rotations queued together in one transaction; one refresh token
    /// presented eight times at once is consumed once, and only the winner's
    /// successors are stored. Reads (on the calling thread for a SQLite file) see the result.
    #[tokio::test]
    async fn one_refresh_token_rotated_eight_times_in_one_batch_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::connect(&url, 4).await.unwrap();
        assert!(
            store.readers.is_some(),
            "a SQLite file reads on the calling thread"
        );
        let now = 1_000;
        let grant = Grant::for_client(
            crate::crypto::secrets::ordered_id(),
            "c".into(),
            "authorization_code",
            "openid".into(),
            now,
        );
        let first = token("rt-0", &grant, TokenKind::RefreshToken, now);
        store
            .insert_grant_with_tokens(&grant, std::slice::from_ref(&first))
            .await
            .unwrap();
        let successors: Vec<TokenRecord> = (1..=8)
            .map(|i| token(&format!("rt-{i}"), &grant, TokenKind::RefreshToken, now))
            .collect();
        // Spawned together, the eight are queued before the writer task next runs.
        let mut calls = tokio::task::JoinSet::new();
        for (i, s) in successors.into_iter().enumerate() {
            let store = store.clone();
            calls.spawn(async move {
                let won = store.rotate_refresh_token("rt-0", now + 1, &[&s]).await;
                (i + 1, won.unwrap())
            });
        }
        let mut winners: Vec<usize> = Vec::new();
        while let Some(r) = calls.join_next().await {
            let (i, won) = r.unwrap();
            if won {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let (consumed, g) = store.find_token_in_grant("rt-0").await.unwrap().unwrap();
        assert_eq!(consumed.consumed_at, Some(now + 1));
        assert_eq!(g.grant_id, grant.grant_id);
        for i in 1..=8 {
            let stored = store.find_token(&format!("rt-{i}")).await.unwrap();
            assert_eq!(stored.is_some(), winners == [i], "successor {i}");
        }
        // A second presentation of the consumed token, alone in its batch, loses too.
        let again = token("rt-9", &grant, TokenKind::RefreshToken, now);
        assert!(
            !store
                .rotate_refresh_token("rt-0", now + 2, &[&again])
                .await
                .unwrap()
        );
        store.close().await;
    }
}
