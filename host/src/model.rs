//! Domain types shared by the endpoints and the store: clients, users, grants, tokens.

pub mod client;
pub mod pattern;
pub mod scope;
pub mod token;
pub mod user;

pub use client::{Client, ClientMetadata};
pub use scope::ScopeType;
pub use token::{AuthContext, Grant, TokenKind, TokenRecord};
pub use user::User;
