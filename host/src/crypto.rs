//! Cryptography: signing keys and the JWKS ([`keys`]), compact JWS signing ([`jwt`]), random
//! tokens, hashing, constant-time comparison and at-rest encryption ([`secrets`]), user
//! passwords ([`password`]).

pub mod jwt;
pub mod keys;
pub mod password;
pub mod secrets;

pub use keys::{KeyRing, SigningAlg};
