//! Administration shared by the CLI (and later the admin API and UI): users and scopes.

pub mod scopes;
pub mod users;
