//! This replica's recent activity, per wall-clock minute over the last [`MINUTES`] minutes:
//! tokens issued, logins, failed logins, error responses, plugin calls and failed plugin calls.
//! The admin dashboard draws it; the cumulative series are in [`crate::metrics`].

use serde::Serialize;
use std::sync::Mutex;

/// How many minutes are kept.
pub const MINUTES: usize = 30;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An access, refresh or ID token issued.
    Token = 0,
    /// A password login that succeeded.
    Login = 1,
    /// A password login that failed.
    LoginFailure = 2,
    /// An HTTP response with status 400 or above.
    Error = 3,
    /// A plugin call.
    PluginCall = 4,
    /// A plugin call that failed.
    PluginError = 5,
}

const KINDS: usize = 6;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    minute: i64,
    counts: [u64; KINDS],
}

/// Per-minute counters in a ring.
#[derive(Debug, Default)]
pub struct Activity {
    ring: Mutex<[Bucket; MINUTES]>,
}

/// The last [`MINUTES`] minutes, oldest first; each series has one value per minute, the last
/// one the minute in progress.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Series {
    /// Unix time (seconds) of the first minute's start.
    pub since: i64,
    /// Tokens issued.
    pub tokens: Vec<u64>,
    /// Successful logins.
    pub logins: Vec<u64>,
    /// Failed logins.
    pub login_failures: Vec<u64>,
    /// Responses with status 400 or above.
    pub errors: Vec<u64>,
    /// Plugin calls.
    pub plugin_calls: Vec<u64>,
    /// Failed plugin calls.
    pub plugin_errors: Vec<u64>,
}

fn current_minute() -> i64 {
    crate::clock::Clock::now(&crate::clock::SystemClock).div_euclid(60)
}

impl Activity {
    /// Counts one `kind` now.
    pub fn record(&self, kind: Kind) {
        self.record_at(kind, current_minute());
    }

    fn record_at(&self, kind: Kind, minute: i64) {
        let Ok(mut ring) = self.ring.lock() else {
            return;
        };
        let slot = &mut ring[minute.rem_euclid(MINUTES as i64) as usize];
        if slot.minute != minute {
            *slot = Bucket {
                minute,
                counts: [0; KINDS],
            };
        }
        slot.counts[kind as usize] += 1;
    }

    /// The last [`MINUTES`] minutes up to now.
    pub fn series(&self) -> Series {
        self.series_at(current_minute())
    }

    fn series_at(&self, now: i64) -> Series {
        let ring = self.ring.lock().map(|r| *r).unwrap_or_default();
        let first = now - MINUTES as i64 + 1;
        let mut per_kind: Vec<Vec<u64>> = (0..KINDS).map(|_| Vec::with_capacity(MINUTES)).collect();
        for minute in first..=now {
            let b = ring[minute.rem_euclid(MINUTES as i64) as usize];
            for (k, series) in per_kind.iter_mut().enumerate() {
                series.push(if b.minute == minute { b.counts[k] } else { 0 });
            }
        }
        let mut it = per_kind.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Series {
            since: first * 60,
            tokens: next(),
            logins: next(),
            login_failures: next(),
            errors: next(),
            plugin_calls: next(),
            plugin_errors: next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_minute_and_forgets_old_minutes() {
        let a = Activity::default();
        a.record_at(Kind::Token, 100);
        a.record_at(Kind::Token, 100);
        a.record_at(Kind::Login, 101);
        let s = a.series_at(101);
        assert_eq!(s.tokens[MINUTES - 2..], [2, 0]);
        assert_eq!(s.logins[MINUTES - 1], 1);
        assert_eq!(s.since, (101 - MINUTES as i64 + 1) * 60);
        // The slot of minute 100 is reused MINUTES later; the old count is gone.
        a.record_at(Kind::Error, 100 + MINUTES as i64);
        let s = a.series_at(100 + MINUTES as i64);
        assert_eq!(s.tokens.iter().sum::<u64>(), 0);
        assert_eq!(s.errors[MINUTES - 1], 1);
        // Minutes with nothing recorded long ago read as zero.
        assert_eq!(a.series_at(10_000).errors.iter().sum::<u64>(), 0);
    }
}
