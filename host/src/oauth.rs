//! OAuth 2.0 / OpenID Connect endpoints, one module per endpoint and per grant. Handlers read
//! as the protocol steps of their RFC; shared pieces (errors, strict form parsing, client
//! authentication, scopes) live beside them.

pub mod authorization_code;
pub mod authorize;
pub mod bearer;
pub mod client_auth;
pub mod client_credentials;
pub mod clientinfo;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod form;
pub mod global_revocation;
pub mod id_generation;
pub mod id_token;
pub mod interaction;
pub mod introspect;
pub mod logout;
pub mod par;
pub mod redirect;
pub mod refresh;
pub mod registration;
pub mod request_object;
pub mod resource;
pub mod revoke;
pub mod scope;
pub mod ssa;
pub mod stat;
pub mod token;
pub mod userinfo;

pub use error::OAuthError;
