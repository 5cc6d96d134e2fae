//! Domain types shared by the endpoints and the store: clients, grants, tokens.

pub mod client;
pub mod token;

pub use client::{Client, ClientMetadata};
pub use token::{Grant, TokenKind, TokenRecord};
