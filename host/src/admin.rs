//! Administration shared by the CLI (and later the admin API and UI): creating users.

pub mod users;
