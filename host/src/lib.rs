//! Tessera: an OAuth 2.0 / OpenID Connect authorization server whose extension points are
//! sandboxed WebAssembly components.
//!
//! The crate is laid out the way a request travels: [`http`] owns the router, layers and
//! error mapping; [`oauth`] holds one module per endpoint and per grant; [`crypto`] owns keys,
//! JWKS and JWT signing; [`store`] is the only module that speaks SQL; [`config`] loads and
//! validates settings; [`session`] owns browser sessions, their cookies and login throttling;
//! [`outbound`] is the one guarded way out to other hosts. [`server`] wires them together and [`cli`] is the command line.

pub mod activity;
pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod outbound;
pub mod plugins;
pub mod server;
pub mod session;
pub mod stats;
pub mod store;

pub use server::{AppState, Server};
