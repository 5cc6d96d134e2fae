//! In-process cache of clients and scopes: the rows every token request reads and an
//! administrator rarely changes. Revocation state and tokens are never cached. The same watcher
//! tells the server when another process changed the run-time configuration (migration 0017).
//!
//! Invalidation (ADR 0002, "Caching"):
//! - a write through this process's [`Store`](super::Store) clears the cache once it commits;
//! - every other write (another replica, the offline CLI, a future admin API) bumps a counter in
//!   `cache_generations` through a database trigger (migration 0016). A watcher task reads the
//!   counters every [`POLL`] and clears the cache when they moved; on PostgreSQL the trigger also
//!   sends `NOTIFY tessera_cache`, which the watcher `LISTEN`s to, so another replica's change
//!   is seen within milliseconds and the poll is only the fallback.
//!
//! A reader that loaded a row before a clear must not put it back afterwards: every fill carries
//! the epoch it started in and is dropped when the epoch moved meanwhile.

use super::{Backend, ScopeRow};
use crate::model::Client;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// How often the watcher reads the change counters.
pub const POLL: Duration = Duration::from_millis(250);

/// Most clients held; the cache is cleared when a fill would go past it (client ids come from
/// requests, but only existing clients are cached, so this bounds memory on huge registries).
const MAX_CLIENTS: usize = 10_000;

/// The PostgreSQL notification channel the triggers of migration 0016 notify.
pub const CHANNEL: &str = "tessera_cache";

/// Cached clients and scopes, with the epoch that orders fills against clears.
#[derive(Debug)]
pub struct Cache {
    epoch: AtomicU64,
    clients: RwLock<HashMap<String, Arc<Client>>>,
    scopes: RwLock<Option<Arc<Vec<ScopeRow>>>>,
    /// Dropped with the cache, which ends the watcher tasks (they hold receivers).
    alive: tokio::sync::watch::Sender<()>,
    /// Whether the watcher tasks were started.
    watching: std::sync::atomic::AtomicBool,
    /// Counts the changes other processes made, as the watcher saw them.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            clients: RwLock::default(),
            scopes: RwLock::default(),
            alive: tokio::sync::watch::channel(()).0,
            watching: Default::default(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Cache {
    /// The current epoch; pass it to a fill that follows a database read.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A cached client.
    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.clients
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(client_id)
            .cloned()
    }

    /// Caches a client read from the database in `epoch`, unless a clear happened since.
    pub fn put_client(&self, epoch: u64, client: &Arc<Client>) {
        let mut map = self.clients.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch() != epoch {
            return;
        }
        if map.len() >= MAX_CLIENTS {
            map.clear();
        }
        map.insert(client.client_id.clone(), client.clone());
    }

    /// The cached scope list.
    pub fn scopes(&self) -> Option<Arc<Vec<ScopeRow>>> {
        self.scopes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Caches the scope list read from the database in `epoch`, unless a clear happened since.
    pub fn put_scopes(&self, epoch: u64, scopes: Arc<Vec<ScopeRow>>) {
        let mut slot = self.scopes.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch() == epoch {
            *slot = Some(scopes);
        }
    }

    /// Fires when another process changed a client, a scope or the run-time configuration.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Drops everything: a client or scope changed.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.scopes.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Starts the watcher tasks of `cache` (once); they end when the cache is dropped.
pub fn watch(cache: &Arc<Cache>, pool: AnyPool, backend: Backend, url: &str) {
    if cache.watching.swap(true, Ordering::AcqRel) {
        return;
    }
    let url = url.to_string();
    tokio::spawn(poll(Arc::downgrade(cache), cache.alive.subscribe(), pool));
    if backend == Backend::Postgres {
        tokio::spawn(listen(Arc::downgrade(cache), cache.alive.subscribe(), url));
    }
}

/// Clears `cache` and tells the [`Cache::changes`] subscribers, if it still exists; false when
/// it is gone.
fn clear(cache: &Weak<Cache>) -> bool {
    cache
        .upgrade()
        .map(|c| {
            c.clear();
            c.changes.send_modify(|n| *n = n.wrapping_add(1));
        })
        .is_some()
}

/// The sum of the change counters: it grows with every client or scope change.
async fn generation(pool: &AnyPool) -> Option<i64> {
    sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM cache_generations",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| tracing::warn!(error = %e, "reading the cache generations failed"))
    .ok()
}

async fn poll(cache: Weak<Cache>, mut alive: tokio::sync::watch::Receiver<()>, pool: AnyPool) {
    let mut seen = generation(&pool).await;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = alive.changed() => return,
        }
        if pool.is_closed() {
            return;
        }
        let now = generation(&pool).await;
        if now.is_some() && now != seen {
            seen = now;
            if !clear(&cache) {
                return;
            }
        }
    }
}

async fn listen(cache: Weak<Cache>, mut alive: tokio::sync::watch::Receiver<()>, url: String) {
    use sqlx::postgres::PgListener;
    let mut listener = loop {
        let attempt = async {
            let mut l = PgListener::connect(&url).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let failed = tokio::select! {
            r = attempt => match r {
                Ok(l) => break l,
                Err(e) => e,
            },
            _ = alive.changed() => return,
        };
        tracing::warn!(error = %failed, "LISTEN for cache changes failed; polling meanwhile");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = alive.changed() => return,
        }
    };
    loop {
        let event = tokio::select! {
            n = listener.recv() => n,
            _ = alive.changed() => return,
        };
        match event {
            Ok(_) => {
                if !clear(&cache) {
                    return;
                }
            }
            // PgListener reconnects on the next recv; a change missed meanwhile is seen by the
            // poll, but clear now in case one was.
            Err(e) => {
                tracing::warn!(error = %e, "cache notification connection lost");
                if !clear(&cache) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = alive.changed() => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str) -> Client {
        Client {
            client_id: id.into(),
            secret_hash: None,
            secret_sealed: None,
            metadata: serde_json::from_value(serde_json::json!({})).expect("metadata"),
            created_at: 0,
        }
    }

    #[test]
    fn a_fill_that_started_before_a_clear_is_dropped() {
        let cache = Cache::default();
        // A reader looks the client up, a writer changes it and clears, the reader then fills.
        let before = cache.epoch();
        cache.clear();
        cache.put_client(before, &Arc::new(client("a")));
        assert!(cache.client("a").is_none(), "the stale row stays out");
        cache.put_scopes(before, Arc::new(vec![ScopeRow::new("s", "oauth")]));
        assert!(cache.scopes().is_none());
        // A fill that started after the clear is kept, until the next clear.
        let after = cache.epoch();
        cache.put_client(after, &Arc::new(client("a")));
        cache.put_scopes(after, Arc::new(vec![ScopeRow::new("s", "oauth")]));
        assert_eq!(
            cache.client("a").map(|c| c.client_id.clone()).as_deref(),
            Some("a")
        );
        assert_eq!(cache.scopes().map(|s| s.len()), Some(1));
        cache.clear();
        assert!(cache.client("a").is_none() && cache.scopes().is_none());
    }
}
