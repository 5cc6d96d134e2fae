//! WebAssembly plugins: the WIT bindings, the sandboxed engine, the registry and its hot
//! reload, and the [`Hooks`] facade endpoint code calls. See `wit/README.md` for the interface
//! and `docs/adr/0006-plugin-runtime.md` for the decisions behind the runtime.

pub mod bindings;
pub mod cache;
pub mod canary;
pub mod engine;
pub mod hooks;
pub mod manifest;
pub mod registry;
pub mod reload;
pub mod tool;

pub use hooks::{HookError, Hooks, Introspected, RevokeDecision, TokenDraft};
pub use manifest::{HookKind, Manifest};
pub use registry::{PluginStatus, Registry};
