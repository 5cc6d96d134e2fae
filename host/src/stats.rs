//! Usage statistics for the stat endpoint (flag STAT, Janssen's stat service): tokens issued per
//! month, client, grant type and kind, and monthly active users.
//!
//! Counting stays off the request path's database: each replica adds to in-memory counters and
//! a HyperLogLog per month, and flushes them every `stat.flush_interval_seconds` (and when it
//! stops, and before it answers a stat request). Token counts are added to the stored ones with
//! one upsert each. Each replica stores its own HyperLogLog registers under its own id and the
//! reader merges them (register-wise maximum), so replicas never overwrite each other and a
//! user active on two replicas is counted once. 4096 one-byte registers per month and replica:
//! about 1.6% standard error, 4 KiB.
//!
//! The HyperLogLog is written out here (Flajolet et al. 2007, with the small-range correction)
//! because its registers are the storage format shared by every replica: a crate's internal
//! layout or serialisation could change under us.

use crate::clock::UnixTime;
use crate::crypto::secrets::{b64url, b64url_decode, sha256_b64};
use std::collections::HashMap;
use std::sync::Mutex;

/// log2 of the register count.
const P: u32 = 12;
/// Registers per HyperLogLog.
pub const REGISTERS: usize = 1 << P;

/// A HyperLogLog sketch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hll(Vec<u8>);

impl Default for Hll {
    fn default() -> Self {
        Self(vec![0; REGISTERS])
    }
}

impl Hll {
    /// Adds an item (hashed with SHA-256, so ids need no further mixing); whether a register
    /// changed.
    pub fn add(&mut self, item: &str) -> bool {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, item.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest.as_ref()[..8]);
        let h = u64::from_be_bytes(b);
        let idx = (h >> (64 - P)) as usize;
        let rest = h << P;
        // Position of the first 1 bit in the remaining 52 bits (1-based), capped.
        let rank = (rest.leading_zeros().min(64 - P) + 1) as u8;
        if self.0[idx] < rank {
            self.0[idx] = rank;
            true
        } else {
            false
        }
    }

    /// Register-wise maximum with `other` (the union of both sets).
    pub fn merge(&mut self, other: &Hll) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }

    /// The estimated number of distinct items.
    pub fn count(&self) -> u64 {
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self.0.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
        let raw = alpha * m * m / sum;
        let zeros = self.0.iter().filter(|&&r| r == 0).count();
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }

    /// The registers, base64url, for storage.
    pub fn encode(&self) -> String {
        b64url(&self.0)
    }

    /// Registers read back; `None` if they are not this sketch's size.
    pub fn decode(s: &str) -> Option<Self> {
        b64url_decode(s).filter(|r| r.len() == REGISTERS).map(Self)
    }
}

/// `(month, client_id, grant_type, kind)`.
pub type TokenKey = (String, String, String, &'static str);

/// What one replica counted since its last flush.
#[derive(Debug, Default)]
pub struct Pending {
    /// Tokens issued.
    pub tokens: HashMap<TokenKey, i64>,
    /// Active users per month (every user seen since the replica started, this month).
    pub users: HashMap<String, Hll>,
}

/// This replica's counters.
#[derive(Debug)]
pub struct Stats {
    replica: String,
    pending: Mutex<Pending>,
    users: Mutex<HashMap<String, Hll>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            replica: crate::crypto::secrets::random_token(12),
            pending: Mutex::default(),
            users: Mutex::default(),
        }
    }
}

impl Stats {
    /// This replica's id (its HyperLogLog rows are stored under it).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A token of `kind` issued to `client_id` under `grant_type`.
    pub fn token_issued(
        &self,
        now: UnixTime,
        client_id: &str,
        grant_type: &str,
        kind: &'static str,
    ) {
        *self
            .pending()
            .tokens
            .entry((month_of(now), client_id.into(), grant_type.into(), kind))
            .or_default() += 1;
    }

    /// A user was active (signed in, or got tokens).
    pub fn user_active(&self, now: UnixTime, user_id: &str) {
        let month = month_of(now);
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let hll = users.entry(month.clone()).or_default();
        // Pseudonymous: the sketch never holds the id itself.
        if hll.add(&sha256_b64(user_id.as_bytes())) {
            self.pending().users.insert(month, hll.clone());
        }
    }

    /// Takes what was counted since the last flush (to store it).
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending())
    }

    /// Puts back what could not be stored, so the next flush tries again.
    pub fn restore(&self, mut failed: Pending) {
        let mut p = self.pending();
        for (k, n) in failed.tokens.drain() {
            *p.tokens.entry(k).or_default() += n;
        }
        for (month, hll) in failed.users.drain() {
            p.users.entry(month).or_default().merge(&hll);
        }
    }
}

/// One month's statistics as the stat endpoint answers them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthStat {
    /// `YYYYMM`.
    pub month: String,
    /// Estimated distinct active users.
    pub monthly_active_users: u64,
    /// Tokens issued: client → grant type → kind → count.
    pub tokens: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
    >,
}

/// `YYYYMM` of a Unix time (UTC).
pub fn month_of(t: UnixTime) -> String {
    let (y, m) = year_month(t.div_euclid(86_400));
    format!("{y:04}{m:02}")
}

/// The civil year and month of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn year_month(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// A `YYYYMM` month, validated.
pub fn parse_month(s: &str) -> Option<(i64, u32)> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[4..].parse().ok()?;
    ((1..=12).contains(&m) && y >= 1970).then_some((y, m))
}

/// Every month from `start` to `end` inclusive, at most `max` of them.
pub fn month_range(start: (i64, u32), end: (i64, u32), max: usize) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let (mut y, mut m) = start;
    while (y, m) <= end {
        if out.len() == max {
            return None;
        }
        out.push(format!("{y:04}{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_of_unix_times() {
        assert_eq!(month_of(0), "197001");
        assert_eq!(month_of(951_782_400), "200002"); // 2000-02-29
        assert_eq!(month_of(1_796_256_000), "202612"); // 2026-12-03
        assert_eq!(month_of(1_798_761_599), "202612"); // 2026-12-31T23:59:59
        assert_eq!(month_of(1_798_761_600), "202701");
        assert_eq!(parse_month("202612"), Some((2026, 12)));
        for bad in ["202613", "202600", "2026-1", "20261", "abcdef", "196912"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        assert_eq!(
            month_range((2025, 11), (2026, 2), 24),
            Some(
                ["202511", "202512", "202601", "202602"]
                    .map(String::from)
                    .to_vec()
            )
        );
        assert_eq!(month_range((2026, 2), (2025, 11), 24), Some(Vec::new()));
        assert!(month_range((2000, 1), (2026, 1), 24).is_none());
    }

    #[test]
    fn hyperloglog_estimates_and_merges() {
        let mut a = Hll::default();
        for i in 0..10_000 {
            a.add(&format!("user-{i}"));
        }
        let n = a.count() as f64;
        assert!((n - 10_000.0).abs() < 10_000.0 * 0.05, "{n}");
        let mut small = Hll::default();
        for i in 0..3 {
            small.add(&format!("user-{i}"));
            small.add(&format!("user-{i}"));
        }
        assert_eq!(small.count(), 3);
        // The union of two overlapping halves counts each user once.
        let (mut x, mut y) = (Hll::default(), Hll::default());
        for i in 0..600 {
            x.add(&format!("u{i}"));
        }
        for i in 400..1000 {
            y.add(&format!("u{i}"));
        }
        x.merge(&y);
        let n = x.count() as f64;
        assert!((n - 1000.0).abs() < 1000.0 * 0.05, "{n}");
        assert_eq!(Hll::decode(&x.encode()), Some(x));
        assert_eq!(Hll::decode("AAAA"), None);
    }
}
