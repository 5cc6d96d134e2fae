//! Signing keys: generation (RS256 2048-bit, ES256, EdDSA), the pre-parsed key set the hot path
//! signs with, rotation, and the JWKS document of active and retiring keys.

use crate::clock::UnixTime;
use crate::crypto::secrets::{MasterKey, b64url, sha256_b64};
use crate::store::{SigningKeyRow, Store, StoreError};
use arc_swap::ArcSwap;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A JWS algorithm the server signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    /// Every supported algorithm.
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// A freshly generated key pair, before storage.
pub struct GeneratedKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Its algorithm.
    pub alg: SigningAlg,
    /// PKCS#8 DER of the private key.
    pub pkcs8: Vec<u8>,
    /// The public JWK (with `kid`, `alg`, `use`).
    pub public_jwk: Value,
}

/// Generates a new key pair for `alg`.
pub fn generate(alg: SigningAlg) -> anyhow::Result<GeneratedKey> {
    let rng = SystemRandom::new();
    let (pkcs8, mut jwk, thumb_input) = match alg {
        SigningAlg::Rs256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| anyhow::anyhow!("RSA keygen failed"))?;
            let der = kp
                .as_der()
                .map_err(|_| anyhow::anyhow!("RSA key export failed"))?
                .as_ref()
                .to_vec();
            let pk = kp.public_key();
            let n = b64url(pk.modulus().big_endian_without_leading_zero());
            let e = b64url(pk.exponent().big_endian_without_leading_zero());
            let thumb = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
            (der, json!({"kty": "RSA", "n": n, "e": e}), thumb)
        }
        SigningAlg::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| anyhow::anyhow!("EC keygen failed"))?;
            let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
                .map_err(|_| anyhow::anyhow!("EC key parse failed"))?;
            // Uncompressed point: 0x04 || X (32) || Y (32).
            let point = kp.public_key().as_ref();
            let (x, y) = (b64url(&point[1..33]), b64url(&point[33..65]));
            let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
            (
                doc.as_ref().to_vec(),
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                thumb,
            )
        }
        SigningAlg::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| anyhow::anyhow!("Ed25519 keygen failed"))?;
            let kp = Ed25519KeyPair::from_pkcs8(doc.as_ref())
                .map_err(|_| anyhow::anyhow!("Ed25519 key parse failed"))?;
            let x = b64url(kp.public_key().as_ref());
            let thumb = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
            (
                doc.as_ref().to_vec(),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                thumb,
            )
        }
    };
    let kid = sha256_b64(thumb_input.as_bytes());
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.name());
    jwk["use"] = json!("sig");
    Ok(GeneratedKey {
        kid,
        alg,
        pkcs8,
        public_jwk: jwk,
    })
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key ready to sign; never printed.
pub struct SigningKey {
    /// Key id, published in the JWKS and in every JWS header it signs.
    pub kid: String,
    /// Its algorithm.
    pub alg: SigningAlg,
    signer: Signer,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 private key once, so signing never re-parses it.
    pub fn from_pkcs8(kid: String, alg: SigningAlg, der: &[u8]) -> anyhow::Result<Self> {
        let signer = match alg {
            SigningAlg::Rs256 => Signer::Rsa(
                RsaKeyPair::from_pkcs8(der).map_err(|e| anyhow::anyhow!("RSA key: {e}"))?,
            ),
            SigningAlg::Es256 => Signer::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| anyhow::anyhow!("EC key: {e}"))?,
            ),
            SigningAlg::EdDsa => Signer::Ed(
                Ed25519KeyPair::from_pkcs8(der).map_err(|e| anyhow::anyhow!("Ed25519 key: {e}"))?,
            ),
        };
        Ok(Self { kid, alg, signer })
    }

    /// Signs `msg` (the JWS signing input) and returns the raw signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)?;
                Ok(sig)
            }
            Signer::Ec(kp) => Ok(kp.sign(&SystemRandom::new(), msg)?.as_ref().to_vec()),
            Signer::Ed(kp) => Ok(kp.sign(msg).as_ref().to_vec()),
        }
    }
}

/// A published public key, parsed once, for checking what this server signed.
struct Verifier {
    alg: jsonwebtoken::Algorithm,
    key: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("alg", &self.alg).finish()
    }
}

/// A JWS this server signed, checked: its header `typ` and its claims.
#[derive(Debug, Clone)]
pub struct OwnJwt {
    /// The header's `typ`.
    pub typ: Option<String>,
    /// The claims (a JSON object).
    pub claims: serde_json::Map<String, Value>,
}

/// One consistent view of the keys: the signing key per algorithm, the JWKS document, and the
/// published keys parsed for verification.
#[derive(Debug)]
pub struct KeySet {
    signing: HashMap<SigningAlg, Arc<SigningKey>>,
    verifiers: HashMap<String, Verifier>,
    /// The serialized JWKS (active and retiring public keys).
    pub jwks: Arc<str>,
    /// The database's key generation this set was loaded at.
    pub generation: i64,
}

impl KeySet {
    /// The current signing key for `alg`.
    pub fn signer(&self, alg: SigningAlg) -> Option<&Arc<SigningKey>> {
        self.signing.get(&alg)
    }

    /// Checks the signature of a compact JWS against the published key its `kid` names (active
    /// or retiring) with that key's algorithm. Expiry, audience and issuer are the caller's
    /// to check; `None` when the token is malformed or the signature does not verify.
    pub fn verify_own(&self, jwt: &str) -> Option<OwnJwt> {
        let header = jsonwebtoken::decode_header(jwt).ok()?;
        let v = self.verifiers.get(header.kid.as_deref()?)?;
        if header.alg != v.alg {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(v.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(jwt, &v.key, &validation)
            .ok()?;
        Some(OwnJwt {
            typ: data.header.typ,
            claims: data.claims,
        })
    }

    /// The key id signing for each algorithm, in algorithm order.
    pub fn signing_kids(&self) -> Vec<&str> {
        SigningAlg::ALL
            .into_iter()
            .filter_map(|a| self.signing.get(&a).map(|k| k.kid.as_str()))
            .collect()
    }

    /// Algorithms with a signing key.
    pub fn algorithms(&self) -> Vec<SigningAlg> {
        SigningAlg::ALL
            .into_iter()
            .filter(|a| self.signing.contains_key(a))
            .collect()
    }
}

/// The server's keys, swapped atomically when a rotation is seen.
pub struct KeyRing {
    current: ArcSwap<KeySet>,
    master: Arc<MasterKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("generation", &self.current.load().generation)
            .finish()
    }
}

impl KeyRing {
    /// Loads the keys, first generating one per configured algorithm that has none.
    pub async fn init(
        store: &Store,
        master: Arc<MasterKey>,
        algorithms: &[SigningAlg],
        now: UnixTime,
    ) -> anyhow::Result<Self> {
        ensure_keys(store, &master, algorithms, now).await?;
        let set = load_set(store, &master, now).await?;
        Ok(Self {
            current: ArcSwap::from_pointee(set),
            master,
        })
    }

    /// The current key set (cheap: an atomic pointer load).
    pub fn load(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Re-reads the keys if another process rotated them (or a retiring key expired); returns
    /// whether anything changed.
    pub async fn refresh(&self, store: &Store, now: UnixTime) -> anyhow::Result<bool> {
        let generation = store.keys_generation().await?;
        let set = load_set(store, &self.master, now).await?;
        let cur = self.current.load();
        if generation == cur.generation
            && set.jwks == cur.jwks
            && set.signing_kids() == cur.signing_kids()
        {
            return Ok(false);
        }
        self.current.store(Arc::new(set));
        Ok(true)
    }
}

/// Makes a new signing key for each algorithm. The new keys are published at once but sign only
/// from `now + publish_ahead`, so that every replica publishes a key before any signs with it;
/// until then the old keys sign. The old keys then stay in the JWKS for `retire_after` seconds so
/// tokens they signed keep verifying.
pub async fn rotate(
    store: &Store,
    master: &MasterKey,
    algorithms: &[SigningAlg],
    timing: Rotation,
    now: UnixTime,
) -> anyhow::Result<Vec<String>> {
    let sign_from = now + timing.publish_ahead;
    let mut rows = Vec::new();
    for &alg in algorithms {
        let mut row = new_row(master, alg, now)?;
        row.sign_from = Some(sign_from);
        rows.push(row);
    }
    let kids = rows.iter().map(|r| r.kid.clone()).collect();
    store
        .rotate_signing_keys(rows, sign_from + timing.retire_after)
        .await?;
    Ok(kids)
}

/// The timing of a rotation (`[keys] publish_ahead` and `retire_after`).
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// Seconds a new key is published before it signs.
    pub publish_ahead: i64,
    /// Seconds an old key stays published after it stopped signing.
    pub retire_after: i64,
}

impl Rotation {
    /// The timing the settings give.
    pub fn of(keys: &crate::config::KeySettings) -> Self {
        Self {
            publish_ahead: keys.publish_ahead,
            retire_after: keys.retire_after,
        }
    }
}

fn new_row(master: &MasterKey, alg: SigningAlg, now: UnixTime) -> anyhow::Result<SigningKeyRow> {
    let k = generate(alg)?;
    Ok(SigningKeyRow {
        kid: k.kid,
        alg: alg.name().to_string(),
        status: "active".into(),
        private_key: master.seal(&k.pkcs8),
        public_jwk: k.public_jwk.to_string(),
        created_at: now,
        retire_at: None,
        sign_from: None,
    })
}

async fn ensure_keys(
    store: &Store,
    master: &MasterKey,
    algorithms: &[SigningAlg],
    now: UnixTime,
) -> anyhow::Result<()> {
    let existing = store.list_signing_keys().await?;
    for &alg in algorithms {
        if !existing
            .iter()
            .any(|r| r.status == "active" && r.alg == alg.name())
        {
            let row = new_row(master, alg, now)?;
            match store.insert_signing_key(&row).await {
                Ok(()) => tracing::info!(kid = %row.kid, alg = alg.name(), "generated signing key"),
                // Another replica starting at the same moment won (one active key per algorithm
                // is a unique index); its key is loaded next.
                Err(StoreError::Conflict) => {
                    tracing::debug!(alg = alg.name(), "another replica made the signing key")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn load_set(store: &Store, master: &MasterKey, now: UnixTime) -> anyhow::Result<KeySet> {
    let generation = store.keys_generation().await?;
    let rows = store.list_signing_keys().await?;
    let mut signing: HashMap<SigningAlg, Arc<SigningKey>> = HashMap::new();
    let mut published = Vec::new();
    let mut verifiers = HashMap::new();
    let mut newest: HashMap<SigningAlg, i64> = HashMap::new();
    for row in rows {
        let Some(alg) = SigningAlg::parse(&row.alg) else {
            continue;
        };
        let live = row.status == "active" || row.retire_at.is_some_and(|t| t > now);
        if !live {
            continue;
        }
        if let Ok(jwk) = serde_json::from_str::<Value>(&row.public_jwk) {
            let parsed = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
                .ok()
                .and_then(|j| jsonwebtoken::DecodingKey::from_jwk(&j).ok());
            if let (Some(key), Ok(alg)) = (parsed, alg.name().parse()) {
                verifiers.insert(row.kid.clone(), Verifier { alg, key });
            }
            published.push(jwk);
        }
        // The key that signs: the one that started signing last. A rotated-in key waits for
        // `sign_from` (published meanwhile); the key it replaces signs until then.
        let from = row.signs_from();
        if from <= now && newest.get(&alg).is_none_or(|&t| from >= t) {
            let der = master.open(&row.private_key).ok_or_else(|| {
                anyhow::anyhow!("signing key {} cannot be decrypted: is master_key the one it was created with?", row.kid)
            })?;
            signing.insert(
                alg,
                Arc::new(SigningKey::from_pkcs8(row.kid.clone(), alg, &der)?),
            );
            newest.insert(alg, from);
        }
    }
    let jwks: Arc<str> = json!({ "keys": published }).to_string().into();
    Ok(KeySet {
        signing,
        verifiers,
        jwks,
        generation,
    })
}
