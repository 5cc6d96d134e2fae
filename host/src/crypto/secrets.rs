//! Secrets: random tokens, one-way hashes for stored credentials, constant-time comparison, and
//! the master key that encrypts private keys and recoverable secrets at rest.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use std::path::Path;

/// Base64url without padding, the encoding of every token and key we emit.
pub fn b64url(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// `n` bytes from the system CSPRNG, base64url encoded. 32 bytes = 256 bits.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    b64url(&buf)
}

/// A unique identifier that sorts by creation time: the Unix time in milliseconds as 12 hex
/// digits, then 16 random bytes (128 bits) base64url encoded, 34 characters in all. Used for
/// database keys written on every token (grant ids, access-token `jti`s): rows keyed by it land
/// on the right-most pages of their B-tree indexes, so a batch of new rows dirties a handful of
/// pages instead of one random page per row and index (docs/adr/0002-storage.md, "Write path").
/// It is an identifier, not a secret: it reveals when it was made.
pub fn ordered_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 16];
    fill_random(&mut random);
    let mut out = format!("{:012x}", millis & 0xffff_ffff_ffff);
    B64.encode_string(random, &mut out);
    out
}

/// Fills `buf` from the system CSPRNG. If the RNG fails the process aborts: a security server
/// that cannot make random values must not go on issuing predictable tokens, keys or ids.
pub fn fill_random(buf: &mut [u8]) {
    if aws_lc_rs::rand::fill(buf).is_err() {
        eprintln!("tessera: the system random number generator failed; aborting");
        std::process::abort();
    }
}

/// SHA-256 of `data`, base64url encoded: how reference tokens and client secrets are stored.
/// Both are ≥256-bit random values, so a fast hash is enough (no dictionary to attack) and keeps
/// the token endpoint fast; see docs/adr/0003-credential-storage.md.
pub fn sha256_b64(data: &[u8]) -> String {
    b64url(digest::digest(&digest::SHA256, data).as_ref())
}

/// SHA-256 of `data` as lowercase hex: how plugin manifests name their wasm.
pub fn sha256_hex(data: &[u8]) -> String {
    digest::digest(&digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// AES-256-GCM key for data at rest (signing keys' private halves, `client_secret_jwt` secrets),
/// plus an HMAC key derived from it for pairwise subject identifiers.
pub struct MasterKey(
    RandomizedNonceKey,
    aws_lc_rs::hmac::Key,
    aws_lc_rs::hmac::Key,
);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Parses a base64url-encoded 32-byte key.
    pub fn from_base64(s: &str) -> Result<Self, String> {
        let bytes = b64url_decode(s.trim()).ok_or("not base64url")?;
        if bytes.len() != 32 {
            return Err(format!(
                "must be 32 bytes base64url-encoded, got {} bytes",
                bytes.len()
            ));
        }
        let aead = RandomizedNonceKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "unusable key".to_string())?;
        // Domain separation: the pairwise salt is HMAC(master, label), never the master key itself.
        let root = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &bytes);
        let pairwise = aws_lc_rs::hmac::sign(&root, b"tessera pairwise subject v1");
        let mac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, pairwise.as_ref());
        Ok(Self(aead, mac, root))
    }

    /// Reads the key file, creating it (mode 0600) with a fresh key when it does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let key = random_token(32);
            write_private(path, key.as_bytes())
                .with_context(|| format!("creating {}", path.display()))?;
            tracing::info!(path = %path.display(), "created master key file");
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_base64(&text).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))
    }

    /// Encrypts `plain`; the result is base64url(nonce || ciphertext || tag).
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut buf = plain.to_vec();
        match self.0.seal_in_place_append_tag(Aad::empty(), &mut buf) {
            Ok(nonce) => {
                let mut out = nonce.as_ref().to_vec();
                out.extend_from_slice(&buf);
                b64url(&out)
            }
            // Sealing only fails for absurd lengths (> 64 GiB); nothing we seal comes close.
            Err(_) => String::new(),
        }
    }

    /// A 32-byte key for one purpose, derived from the master key: HMAC(master, `label`). Labels
    /// name the purpose and its version, so keys for different purposes are unrelated.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        let tag = aws_lc_rs::hmac::sign(&self.2, label);
        let mut out = [0u8; 32];
        out.copy_from_slice(&tag.as_ref()[..32]);
        out
    }

    /// A pairwise subject identifier (OpenID Connect Core §8.1): the same for one user across
    /// every client of one sector, unlinkable across sectors, stable across restarts.
    pub fn pairwise_subject(&self, sector: &str, user_id: &str) -> String {
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&self.1);
        ctx.update(sector.as_bytes());
        ctx.update(b"\0");
        ctx.update(user_id.as_bytes());
        b64url(ctx.sign().as_ref())
    }

    /// Decrypts what [`seal`](Self::seal) produced; `None` if tampered with or sealed by another key.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let raw = b64url_decode(sealed)?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut buf).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

/// A random UUID (version 4 layout, 122 random bits): client ids, generated identifiers.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ordered_ids_sort_by_time_and_differ() {
        let ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        let (before, id, after) = (ms(), ordered_id(), ms());
        assert_eq!(id.len(), 34);
        let made = u64::from_str_radix(&id[..12], 16).unwrap();
        assert!((before..=after).contains(&made), "{id}");
        // Hex digits sort as numbers do, so a later id sorts after an earlier one.
        assert!(*format!("{:012x}", before - 1) < id[..12]);
        assert_ne!(ordered_id()[12..], ordered_id()[12..]);
    }

    #[test]
    fn random_tokens_are_256_bit_and_distinct() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(b64url_decode(&a).map(|v| v.len()), Some(32));
    }

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let k = MasterKey::from_base64(&random_token(32)).expect("key");
        let sealed = k.seal(b"private");
        assert_eq!(k.open(&sealed).as_deref(), Some(&b"private"[..]));
        let other = MasterKey::from_base64(&random_token(32)).expect("key");
        assert!(other.open(&sealed).is_none());
        let mut raw = b64url_decode(&sealed).expect("b64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(k.open(&b64url(&raw)).is_none());
        assert!(k.open("!!").is_none());
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
