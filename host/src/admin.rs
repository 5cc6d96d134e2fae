//! Administration shared by the CLI (and later the admin API and UI): users, scopes and
//! sessions.

pub mod scopes;
pub mod sessions;
pub mod users;
