//! Schema migrations, embedded in the binary and applied in order on start. A lock (PostgreSQL
//! advisory lock; SQLite's write lock) keeps two starting replicas from applying one twice.

use super::{Backend, Store};

/// (version, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_browser.sql")),
    (3, include_str!("../../migrations/0003_plugin_claims.sql")),
    (4, include_str!("../../migrations/0004_hardening.sql")),
    (5, include_str!("../../migrations/0005_revocation.sql")),
    (6, include_str!("../../migrations/0006_scopes.sql")),
    (7, include_str!("../../migrations/0007_logout.sql")),
    (8, include_str!("../../migrations/0008_par.sql")),
    (9, include_str!("../../migrations/0009_generated_ids.sql")),
    (10, include_str!("../../migrations/0010_registration.sql")),
    (11, include_str!("../../migrations/0011_dpop.sql")),
    (12, include_str!("../../migrations/0012_device.sql")),
    (13, include_str!("../../migrations/0013_stats.sql")),
    (14, include_str!("../../migrations/0014_ssa.sql")),
    (15, include_str!("../../migrations/0015_key_activation.sql")),
];

/// Applies every migration not yet applied.
pub async fn run(store: &Store) -> anyhow::Result<()> {
    let mut conn = store.pool.acquire().await?;
    if store.backend == Backend::Postgres {
        // Arbitrary constant naming "tessera migrations" for the advisory lock. Taken before the
        // first statement: two replicas starting together on an empty database would otherwise
        // race on CREATE TABLE IF NOT EXISTS (which is not atomic in PostgreSQL's catalog).
        sqlx::query("SELECT pg_advisory_lock(7245917)")
            .execute(&mut *conn)
            .await?;
    }
    let result = async {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *conn)
            .await?;
        apply(&mut conn, store.backend).await
    }
    .await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7245917)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(
    conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    backend: Backend,
) -> anyhow::Result<()> {
    for &(version, sql) in MIGRATIONS {
        if backend == Backend::Sqlite {
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut **conn)
                .await?;
        } else {
            sqlx::raw_sql("BEGIN").execute(&mut **conn).await?;
        }
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut **conn)
                .await?;
        if done.is_some() {
            sqlx::raw_sql("COMMIT").execute(&mut **conn).await?;
            continue;
        }
        let step = async {
            sqlx::raw_sql(sql).execute(&mut **conn).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::clock::Clock::now(&crate::clock::SystemClock))
                .execute(&mut **conn)
                .await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match step {
            Ok(()) => {
                sqlx::raw_sql("COMMIT").execute(&mut **conn).await?;
                tracing::info!(version, "applied database migration");
            }
            Err(e) => {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut **conn).await;
                return Err(anyhow::anyhow!("migration {version}: {e}"));
            }
        }
    }
    Ok(())
}
