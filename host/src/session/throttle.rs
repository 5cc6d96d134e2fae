//! Password login protection: a cap on password verifications running at once (each argon2id
//! verification holds 19 MiB), and per-username and per-address throttling with exponential
//! back-off. A lock-out is the same for a username that exists and one that does not, so it
//! reveals nothing; while locked, no password is checked at all.
//!
//! Failure counts live in this process (a replica counts its own); the map is bounded.

use crate::clock::UnixTime;
use crate::config::LoginSettings;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most tracked usernames and addresses; past it, entries that no longer matter are dropped
/// first, then the oldest, so memory stays bounded whatever an attacker sends.
const MAX_TRACKED: usize = 100_000;
/// Usernames are tracked by at most this many bytes (a login form may carry a huge one).
const MAX_KEY_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: UnixTime,
}

/// Why a login is not being checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures: locked for this many more seconds.
    LockedOut(i64),
    /// Every verification slot stayed busy for the bounded wait.
    Busy,
}

/// One password check for the verification threads.
struct Job {
    password: String,
    stored: Option<String>,
    reply: tokio::sync::oneshot::Sender<bool>,
}

/// The login guard of one server.
pub struct LoginGuard {
    settings: arc_swap::ArcSwap<LoginSettings>,
    verifications: Semaphore,
    failures: Mutex<HashMap<Key, Failures>>,
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Starts `n` threads that run password checks, each computing in one argon2 block set
/// (19 MiB) that it keeps: memory stays at `n` block sets. Allocating a block set per check
/// (argon2's own verifier) let freed sets stay resident in the allocator: +460 MB for 64 logins
/// on tokio's blocking pool, +211 MB even on two threads (measured).
fn spawn_verifiers(n: usize) -> std::sync::mpsc::Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tessera-password-{i}"))
            .spawn(move || {
                // One argon2 block set per thread, reused for every check.
                let mut memory = Vec::new();
                loop {
                    let job = {
                        let guard = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        guard.recv()
                    };
                    // The sender is gone: the server stopped.
                    let Ok(job) = job else { return };
                    let ok = crate::crypto::password::verify_in(
                        &job.password,
                        job.stored.as_deref(),
                        &mut memory,
                    );
                    let _ = job.reply.send(ok);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a password verification thread");
        }
    }
    tx
}

impl LoginGuard {
    /// A guard with `settings`; 0 concurrent verifications means one per core.
    pub fn new(settings: &LoginSettings) -> Self {
        let slots = match settings.max_concurrent_verifications {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        Self {
            settings: arc_swap::ArcSwap::from_pointee(settings.clone()),
            verifications: Semaphore::new(slots),
            failures: Mutex::new(HashMap::new()),
            jobs: spawn_verifiers(slots),
        }
    }

    /// Applies changed login settings (all but the verifier thread count, fixed at start-up).
    pub fn update(&self, settings: &LoginSettings) {
        self.settings.store(std::sync::Arc::new(settings.clone()));
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut end = username.len().min(MAX_KEY_BYTES);
        while !username.is_char_boundary(end) {
            end -= 1;
        }
        let mut keys = vec![(Key::Account(username[..end].to_string()), 0)];
        if let Some(ip) = ip {
            keys.push((Key::Address(ip), 1));
        }
        keys
    }

    fn threshold(&self, which: u32) -> u32 {
        if which == 0 {
            self.settings.load().account_failures
        } else {
            self.settings.load().ip_failures
        }
    }

    /// Seconds a key with `count` failures stays locked after its last failure.
    fn lockout(&self, count: u32, threshold: u32) -> i64 {
        if count < threshold {
            return 0;
        }
        let doublings = (count - threshold).min(20);
        let settings = self.settings.load();
        settings
            .lockout_seconds
            .saturating_mul(1_i64 << doublings)
            .min(settings.max_lockout_seconds)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // A panic while holding the lock cannot leave the map inconsistent (plain inserts).
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(LockedOut(seconds))` while the username or the address is locked out.
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now: UnixTime) -> Result<(), Refusal> {
        let map = self.map();
        let wait = Self::keys(username, ip)
            .into_iter()
            .filter_map(|(k, which)| {
                let f = map.get(&k)?;
                let until = f.last + self.lockout(f.count, self.threshold(which));
                (until > now).then_some(until - now)
            })
            .max();
        match wait {
            Some(w) => Err(Refusal::LockedOut(w)),
            None => Ok(()),
        }
    }

    /// Counts a failed login against the username and the address.
    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>, now: UnixTime) {
        let window = self.settings.load().failure_window_seconds;
        let mut map = self.map();
        for (k, _) in Self::keys(username, ip) {
            let f = map.entry(k).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now - f.last > window {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
        }
        if map.len() > MAX_TRACKED {
            let keep = window.max(self.settings.load().max_lockout_seconds);
            map.retain(|_, f| now - f.last <= keep);
            while map.len() > MAX_TRACKED {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, f)| f.last)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
    }

    /// A successful login clears the username's failures (not the address's: an attacker's
    /// own account must not reset the count of the address it guesses from).
    pub fn record_success(&self, username: &str) {
        let mut map = self.map();
        if let Some((k, _)) = Self::keys(username, None).into_iter().next() {
            map.remove(&k);
        }
    }

    /// Verifies `password` on a verification thread once a slot is free; waits for one at most
    /// `login.verification_wait_ms`.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Refusal> {
        let wait = Duration::from_millis(self.settings.load().verification_wait_ms);
        let _slot = match tokio::time::timeout(wait, self.verifications.acquire()).await {
            Ok(Ok(slot)) => slot,
            _ => return Err(Refusal::Busy),
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            password,
            stored,
            reply,
        };
        if self.jobs.send(job).is_err() {
            return Err(Refusal::Busy);
        }
        // A lost answer (a verification thread died) counts as a failed check.
        Ok(answer.await.unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LoginGuard {
        LoginGuard::new(&LoginSettings {
            account_failures: 3,
            ip_failures: 5,
            lockout_seconds: 10,
            max_lockout_seconds: 100,
            failure_window_seconds: 1000,
            ..LoginSettings::default()
        })
    }

    #[test]
    fn backs_off_exponentially_and_forgets() {
        let g = guard();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..2 {
            g.record_failure("alice", Some(ip), 100);
        }
        assert_eq!(g.check("alice", Some(ip), 100), Ok(()));
        g.record_failure("alice", Some(ip), 100);
        assert_eq!(g.check("alice", None, 100), Err(Refusal::LockedOut(10)));
        assert_eq!(g.check("alice", None, 110), Ok(()));
        g.record_failure("alice", None, 110);
        assert_eq!(g.check("alice", None, 110), Err(Refusal::LockedOut(20)));
        g.record_failure("alice", None, 130);
        g.record_failure("alice", None, 130);
        g.record_failure("alice", None, 130);
        assert_eq!(
            g.check("alice", None, 130),
            Err(Refusal::LockedOut(100)),
            "capped"
        );
        // The address reaches its own threshold (5) through failures for any usernames.
        g.record_failure("mallory", Some(ip), 100);
        assert_eq!(g.check("bob", Some(ip), 100), Ok(()));
        g.record_failure("mallory", Some(ip), 100);
        assert!(matches!(
            g.check("bob", Some(ip), 100),
            Err(Refusal::LockedOut(_))
        ));
        g.record_success("alice");
        assert_eq!(g.check("alice", None, 130), Ok(()));
        // A failure after the window starts counting again.
        g.record_failure("carol", None, 0);
        g.record_failure("carol", None, 0);
        g.record_failure("carol", None, 2000);
        assert_eq!(g.check("carol", None, 2000), Ok(()));
    }
}
