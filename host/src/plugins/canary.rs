//! Canary deployments: a new version of a plugin runs in shadow beside the live version on a
//! sampled share of real calls. It gets the same input as the live version, off the request
//! path; its answer is compared with the live version's and never used. Differences are counted
//! and the latest are kept for the administrator to review before promoting or discarding it.

use super::registry::LoadedPlugin;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many differences are kept for review.
pub const SAMPLES_KEPT: usize = 20;
/// Longest answer kept in a sample, in bytes.
const SAMPLE_BYTES: usize = 2048;

/// A canary version of a plugin and what comparing it found on this server.
pub struct Canary {
    /// The canary version, ready to call.
    pub plugin: Arc<LoadedPlugin>,
    /// Percent of the live version's calls it also runs on (1 to 100).
    pub sample_percent: u8,
    seen: AtomicU64,
    compared: AtomicU64,
    same: AtomicU64,
    different: AtomicU64,
    samples: Mutex<VecDeque<Difference>>,
}

/// One call on which the canary answered differently.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct Difference {
    /// When (Unix seconds).
    pub at: i64,
    /// The live version's answer.
    pub live: String,
    /// The canary's answer.
    pub canary: String,
}

/// What comparing found so far on this server.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema, PartialEq, Eq)]
pub struct Comparison {
    /// Calls the canary also ran on.
    pub compared: u64,
    /// Calls where it answered as the live version did (both failing counts as the same).
    pub same: u64,
    /// Calls where it answered differently.
    pub different: u64,
    /// The latest differences, newest last.
    pub samples: Vec<Difference>,
}

impl Canary {
    /// A canary of `plugin` sampling `sample_percent` of calls.
    pub fn new(plugin: Arc<LoadedPlugin>, sample_percent: u8) -> Self {
        Self {
            plugin,
            sample_percent: sample_percent.clamp(1, 100),
            seen: AtomicU64::new(0),
            compared: AtomicU64::new(0),
            same: AtomicU64::new(0),
            different: AtomicU64::new(0),
            samples: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether this call is one of the sampled share: spread evenly, `sample_percent` of each
    /// hundred calls.
    pub fn sampled(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        let p = u64::from(self.sample_percent);
        // Call n is sampled when it moves floor(n * p / 100) up.
        ((n + 1) * p) / 100 > (n * p) / 100
    }

    /// Records the live and the canary's answers to one call.
    pub fn record<T: PartialEq + Serialize>(
        &self,
        live: &Result<T, String>,
        canary: &Result<T, String>,
        at: i64,
    ) {
        self.compared.fetch_add(1, Ordering::Relaxed);
        let same = match (live, canary) {
            (Ok(a), Ok(b)) => a == b,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if same {
            self.same.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.different.fetch_add(1, Ordering::Relaxed);
        let d = Difference {
            at,
            live: shown(live),
            canary: shown(canary),
        };
        if let Ok(mut s) = self.samples.lock() {
            if s.len() == SAMPLES_KEPT {
                s.pop_front();
            }
            s.push_back(d);
        }
    }

    /// What comparing found so far.
    pub fn comparison(&self) -> Comparison {
        Comparison {
            compared: self.compared.load(Ordering::Relaxed),
            same: self.same.load(Ordering::Relaxed),
            different: self.different.load(Ordering::Relaxed),
            samples: self
                .samples
                .lock()
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// An answer as JSON (a failure as `failed: ...`), cut at [`SAMPLE_BYTES`].
fn shown<T: Serialize>(r: &Result<T, String>) -> String {
    let mut s = match r {
        Ok(v) => serde_json::to_string(v).unwrap_or_default(),
        Err(e) => format!("failed: {e}"),
    };
    if s.len() > SAMPLE_BYTES {
        let mut end = SAMPLE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled_of_100(p: u8) -> usize {
        let seen = AtomicU64::new(0);
        let c = |n: u64| ((n + 1) * u64::from(p)) / 100 > (n * u64::from(p)) / 100;
        (0..100)
            .filter(|_| c(seen.fetch_add(1, Ordering::Relaxed)))
            .count()
    }

    #[test]
    fn samples_the_share_asked_for() {
        assert_eq!(sampled_of_100(100), 100);
        assert_eq!(sampled_of_100(10), 10);
        assert_eq!(sampled_of_100(1), 1);
        assert_eq!(sampled_of_100(33), 33);
    }
}
