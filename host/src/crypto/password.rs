//! Password hashing with argon2id at OWASP's parameters. Verification of an unknown user runs
//! against a dummy hash with the same parameters, so a wrong username costs the same time as a
//! wrong password and reveals nothing.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// OWASP Password Storage Cheat Sheet, argon2id option 2: 19 MiB memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// Salt length in bytes (the PHC recommendation is at least 16).
const SALT_LEN: usize = 16;

/// Hashing failed (only for absurd inputs, like a password longer than 4 GiB).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

fn hasher() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|_| HashError)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`). CPU-heavy:
/// call from a blocking thread.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError)?;
    let h = hasher()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| HashError)?;
    Ok(h.to_string())
}

/// Checks `password` against a stored PHC string; `None` verifies against the dummy hash and
/// always fails, taking the same time. CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let stored = match stored {
        Some(s) => s,
        None => dummy_hash(),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ok = hasher()
        .map(|h| h.verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false);
    ok && stored.as_ptr() != dummy_hash().as_ptr()
}

/// A hash of a random password, made once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash(&crate::crypto::secrets::random_token(24)).unwrap_or_else(|_| String::new())
    })
}

/// Warms the dummy hash so the first login of an unknown user is not faster than later ones.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("wrong horse", Some(&h)));
        assert!(!verify("correct horse", None));
        assert!(!verify("x", Some("not a phc string")));
        // Two hashes of one password differ (random salt).
        assert_ne!(h, hash("correct horse").expect("hash"));
    }

    #[test]
    fn unknown_user_costs_about_as_much_as_a_known_one() {
        let h = hash("pw").expect("hash");
        warm_up();
        let time = |f: &dyn Fn() -> bool| {
            let t = std::time::Instant::now();
            for _ in 0..3 {
                assert!(!f());
            }
            t.elapsed().as_secs_f64()
        };
        let known = time(&|| verify("wrong", Some(&h)));
        let unknown = time(&|| verify("wrong", None));
        let ratio = known / unknown;
        assert!(
            (0.5..2.0).contains(&ratio),
            "known {known}s vs unknown {unknown}s"
        );
    }
}
