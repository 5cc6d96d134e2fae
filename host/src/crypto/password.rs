//! Password hashing with argon2id at OWASP's parameters. Verification of an unknown user runs
//! against a dummy hash with the same parameters, so a wrong username costs the same time as a
//! wrong password and reveals nothing.

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// Most argon2 blocks (KiB) a stored hash may ask for: a corrupt or hostile hash must not make
/// a verification allocate without bound. Four times our own cost.
const MAX_BLOCKS: usize = 4 * MEMORY_KIB as usize;

/// Like [`verify`], but computes in `memory` (grown to the hash's block count and kept by the
/// caller between calls), so that repeated verifications on one thread allocate nothing: the
/// login path's memory is then exactly one argon2 block set per verification thread.
pub fn verify_in(password: &str, stored: Option<&str>, memory: &mut Vec<Block>) -> bool {
    let phc = stored.unwrap_or(DUMMY_HASH);
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut memory[..],
    );
    let ok = computed.is_ok() && crate::crypto::secrets::ct_eq(&out, expected.as_bytes());
    ok && stored.is_some()
}

/// Checks `password` against a stored PHC string; `None` verifies against the dummy hash and
/// always fails, taking the same time. CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    verify_in(password, stored, &mut Vec::new())
}

/// What an unknown user's password is verified against: a hash, at our parameters, of a random
/// password nobody kept. It is a constant because only its cost matters (the answer for an
/// unknown user is "no" whatever it computes), and a constant costs no argon2 run, and no
/// 19 MiB of heap, at each start. `the_dummy_hash_has_our_parameters` keeps it in step.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$FcVe+i/Kkip3KDOQbwjLfg$xONTghlcN0AoH3sBuyV+CCZgQ7Bs4obFhIG2L3FEa7M";

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
        // A stored hash may not make a check allocate without bound (here 4 GiB).
        let hostile = h.replace("m=19456", "m=4194304");
        assert!(!verify("correct horse", Some(&hostile)));
        // One reused block set gives the same answers.
        let mut memory = Vec::new();
        assert!(verify_in("correct horse", Some(&h), &mut memory));
        assert!(!verify_in("wrong horse", Some(&h), &mut memory));
        assert_eq!(memory.len(), MEMORY_KIB as usize);
        // Two hashes of one password differ (random salt).
        assert_ne!(h, hash("correct horse").expect("hash"));
    }

    #[test]
    fn the_dummy_hash_has_our_parameters() {
        let ours = hash("pw").expect("hash");
        let params = |phc: &str| phc.rsplitn(3, '$').nth(2).map(str::to_owned);
        assert_eq!(params(DUMMY_HASH), params(&ours));
        let dummy = PasswordHash::new(DUMMY_HASH).expect("a PHC string");
        let mine = PasswordHash::new(&ours).expect("a PHC string");
        assert_eq!(dummy.salt.map(|s| s.len()), mine.salt.map(|s| s.len()));
        assert_eq!(dummy.hash.map(|h| h.len()), mine.hash.map(|h| h.len()));
    }

    #[test]
    fn unknown_user_costs_about_as_much_as_a_known_one() {
        let h = hash("pw").expect("hash");
        // The fastest of several runs, the two kinds taken in turn: what the work costs, not
        // what else the machine was doing (the suite runs many tests at once on two cores, and a
        // burst of them must not fall on one kind's runs only).
        let time = |f: &dyn Fn() -> bool| {
            let t = std::time::Instant::now();
            assert!(!f());
            t.elapsed().as_secs_f64()
        };
        let (mut known, mut unknown) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..5 {
            known = known.min(time(&|| verify("wrong", Some(&h))));
            unknown = unknown.min(time(&|| verify("wrong", None)));
        }
        let ratio = known / unknown;
        assert!(
            (0.5..2.0).contains(&ratio),
            "known {known}s vs unknown {unknown}s"
        );
    }
}
