//! Schema migrations, embedded in the binary and applied in order on start. A lock (PostgreSQL
//! advisory lock; SQLite's write lock) keeps two starting replicas from applying one twice.

use super::{Backend, Store};

/// The SQL of one migration: the same for both databases, or one text per database where the
/// dialects differ (triggers).
#[derive(Clone, Copy)]
enum Sql {
    Both(&'static str),
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

impl Sql {
    fn text(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (Sql::Both(s), _) => s,
            (Sql::PerBackend { sqlite, .. }, Backend::Sqlite) => sqlite,
            (Sql::PerBackend { postgres, .. }, Backend::Postgres) => postgres,
        }
    }
}

macro_rules! both {
    ($file:literal) => {
        Sql::Both(include_str!(concat!("../../migrations/", $file)))
    };
}

/// (version, SQL). Append only: a released migration is never edited.
const MIGRATIONS: &[(i64, Sql)] = &[
    (1, both!("0001_init.sql")),
    (2, both!("0002_browser.sql")),
    (3, both!("0003_plugin_claims.sql")),
    (4, both!("0004_hardening.sql")),
    (5, both!("0005_revocation.sql")),
    (6, both!("0006_scopes.sql")),
    (7, both!("0007_logout.sql")),
    (8, both!("0008_par.sql")),
    (9, both!("0009_generated_ids.sql")),
    (10, both!("0010_registration.sql")),
    (11, both!("0011_dpop.sql")),
    (12, both!("0012_device.sql")),
    (13, both!("0013_stats.sql")),
    (14, both!("0014_ssa.sql")),
    (15, both!("0015_key_activation.sql")),
    (
        16,
        Sql::PerBackend {
            sqlite: include_str!("../../migrations/0016_cache_generations.sqlite.sql"),
            postgres: include_str!("../../migrations/0016_cache_generations.postgres.sql"),
        },
    ),
    (
        17,
        Sql::PerBackend {
            sqlite: include_str!("../../migrations/0017_server_config.sqlite.sql"),
            postgres: include_str!("../../migrations/0017_server_config.postgres.sql"),
        },
    ),
    (
        18,
        Sql::PerBackend {
            sqlite: include_str!("../../migrations/0018_audit_log.sqlite.sql"),
            postgres: include_str!("../../migrations/0018_audit_log.postgres.sql"),
        },
    ),
    (19, both!("0019_user_roles.sql")),
    (
        20,
        Sql::PerBackend {
            sqlite: include_str!("../../migrations/0020_plugins.sqlite.sql"),
            postgres: include_str!("../../migrations/0020_plugins.postgres.sql"),
        },
    ),
    (
        21,
        Sql::PerBackend {
            sqlite: include_str!("../../migrations/0021_plugin_canaries.sqlite.sql"),
            postgres: include_str!("../../migrations/0021_plugin_canaries.postgres.sql"),
        },
    ),
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
            sqlx::raw_sql(sql.text(backend))
                .execute(&mut **conn)
                .await?;
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
