//! # tessera-plugin-sdk
//!
//! Write [Tessera](../../README.md) plugins in Rust. A plugin implements one hook trait and
//! exports it with [`export_plugin!`]; `cargo build --release --target wasm32-wasip2` then emits
//! a component ready to drop into the server's plugins directory.
//!
//! ```ignore
//! use tessera_plugin_sdk::update_token::{Context, Guest, Update};
//!
//! struct AddTenant;
//!
//! impl Guest for AddTenant {
//!     fn update_token(ctx: Context) -> Result<Update, String> {
//!         let tenant = tessera_plugin_sdk::host::config("tenant").unwrap_or_default();
//!         Ok(Update {
//!             set_claims: Some(serde_json::json!({ "tenant": tenant }).to_string()),
//!             remove_claims: vec![],
//!             lifetime: None,
//!         })
//!     }
//! }
//!
//! tessera_plugin_sdk::export_plugin!(update_token: AddTenant);
//! ```
//!
//! Plugin logic is plain Rust: call `AddTenant::update_token(ctx)` from a native `#[test]`,
//! with [`host`] answering from [`testing`] fixtures instead of the server.

#![allow(unsafe_code)] // wit-bindgen's generated glue.

/// Bindings of the `update-token-plugin` world (and the shared `types` and `host` interfaces).
#[doc(hidden)]
pub mod gen_update_token {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "update-token-plugin",
        pub_export_macro: true,
        export_macro_name: "export_update_token",
        default_bindings_module: "tessera_plugin_sdk::gen_update_token",
    });
}

macro_rules! world_bindings {
    ($module:ident, $world:literal, $macro_name:literal, $bindings:literal) => {
        #[doc(hidden)]
        pub mod $module {
            wit_bindgen::generate!({
                path: "../../wit",
                world: $world,
                pub_export_macro: true,
                export_macro_name: $macro_name,
                default_bindings_module: $bindings,
                with: {
                    "tessera:plugin/types@0.2.0": crate::gen_update_token::tessera::plugin::types,
                    "tessera:plugin/host@0.2.0": crate::gen_update_token::tessera::plugin::host,
                },
            });
        }
    };
}

world_bindings!(
    gen_revoke_token,
    "revoke-token-plugin",
    "export_revoke_token",
    "tessera_plugin_sdk::gen_revoke_token"
);
world_bindings!(
    gen_dynamic_scope,
    "dynamic-scope-plugin",
    "export_dynamic_scope",
    "tessera_plugin_sdk::gen_dynamic_scope"
);
world_bindings!(
    gen_introspection,
    "introspection-plugin",
    "export_introspection",
    "tessera_plugin_sdk::gen_introspection"
);
/// Bindings of the `end-session-plugin` world (it uses no shared record, so only `host` is
/// mapped).
#[doc(hidden)]
pub mod gen_end_session {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "end-session-plugin",
        pub_export_macro: true,
        export_macro_name: "export_end_session",
        default_bindings_module: "tessera_plugin_sdk::gen_end_session",
        with: {
            "tessera:plugin/host@0.2.0": crate::gen_update_token::tessera::plugin::host,
        },
    });
}

/// Shared records: [`types::Client`], [`types::Grant`], [`types::Token`], ...
pub use gen_update_token::tessera::plugin::types;

/// The update-token hook: implement [`update_token::Guest`].
pub mod update_token {
    pub use crate::gen_update_token::exports::tessera::plugin::update_token::*;
}
/// The revoke-token hook: implement [`revoke_token::Guest`].
pub mod revoke_token {
    pub use crate::gen_revoke_token::exports::tessera::plugin::revoke_token::*;
}
/// The dynamic-scope hook: implement [`dynamic_scope::Guest`].
pub mod dynamic_scope {
    pub use crate::gen_dynamic_scope::exports::tessera::plugin::dynamic_scope::*;
}
/// The introspection hook: implement [`introspection::Guest`].
pub mod introspection {
    pub use crate::gen_introspection::exports::tessera::plugin::introspection::*;
}
/// The end-session hook: implement [`end_session::Guest`].
pub mod end_session {
    pub use crate::gen_end_session::exports::tessera::plugin::end_session::*;
}

/// JSON, for claims (re-exported so plugins and the SDK agree on one version).
pub use serde_json;

/// Exports a type as the plugin's one hook:
/// `export_plugin!(update_token: MyPlugin)`, `export_plugin!(revoke_token: MyPlugin)`,
/// `export_plugin!(dynamic_scope: ...)`, `export_plugin!(introspection: ...)`,
/// `export_plugin!(end_session: ...)`.
#[macro_export]
macro_rules! export_plugin {
    (update_token: $t:ident) => {
        // Only a wasm build exports the hook; a native build (unit tests) links as a plain
        // library (the component export names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::gen_update_token::export_update_token!($t);
    };
    (revoke_token: $t:ident) => {
        // Only a wasm build exports the hook; a native build (unit tests) links as a plain
        // library (the component export names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::gen_revoke_token::export_revoke_token!($t);
    };
    (dynamic_scope: $t:ident) => {
        // Only a wasm build exports the hook; a native build (unit tests) links as a plain
        // library (the component export names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::gen_dynamic_scope::export_dynamic_scope!($t);
    };
    (introspection: $t:ident) => {
        // Only a wasm build exports the hook; a native build (unit tests) links as a plain
        // library (the component export names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::gen_introspection::export_introspection!($t);
    };
    (end_session: $t:ident) => {
        // Only a wasm build exports the hook; a native build (unit tests) links as a plain
        // library (the component export names are not valid native symbol names).
        #[cfg(target_arch = "wasm32")]
        $crate::gen_end_session::export_end_session!($t);
    };
}

/// The host's capabilities. Inside the server these call the `tessera:plugin/host` imports;
/// in a native build (unit tests) they answer from [`testing`].
pub mod host {
    pub use crate::gen_update_token::tessera::plugin::host::Level;

    /// One of the plugin's configuration properties (the manifest's `[config]`).
    pub fn config(key: &str) -> Option<String> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::gen_update_token::tessera::plugin::host::config(key)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::testing::with(|f| f.config.get(key).cloned())
        }
    }

    /// Every configuration property, sorted by key.
    pub fn config_all() -> Vec<(String, String)> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::gen_update_token::tessera::plugin::host::config_all()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::testing::with(|f| {
                f.config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
        }
    }

    /// The server's clock, seconds since the Unix epoch.
    pub fn now() -> i64 {
        #[cfg(target_arch = "wasm32")]
        {
            crate::gen_update_token::tessera::plugin::host::now()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::testing::with(|f| f.now)
        }
    }

    pub use crate::gen_update_token::tessera::plugin::host::{
        HttpError, HttpRequest, HttpResponse,
    };

    /// Sends an HTTP request through the server (to a host the plugin's manifest allow-lists in
    /// `[http] allow`) and waits for the whole response, within the call's deadline. In a native
    /// build it answers from [`crate::testing::set_http`].
    pub fn fetch(request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        #[cfg(target_arch = "wasm32")]
        {
            crate::gen_update_token::tessera::plugin::host::fetch(request)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::testing::with(|f| match &f.http {
                Some(respond) => respond(request),
                None => Err(HttpError::Denied("no HTTP in this test".into())),
            })
        }
    }

    /// `fetch` of a GET without headers.
    pub fn get(url: &str) -> Result<HttpResponse, HttpError> {
        fetch(&HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: None,
        })
    }

    /// Writes a line to the server's log, tagged with the plugin's name and version.
    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        {
            crate::gen_update_token::tessera::plugin::host::log(level, message)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::testing::with(|f| f.logs.push((level, message.to_string())))
        }
    }
}

/// Native test fixtures for [`host`]: set configuration and time, read what was logged.
#[cfg(not(target_arch = "wasm32"))]
pub mod testing {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// How `host::fetch` answers in a native build.
    pub type Responder = Box<
        dyn Fn(
            &crate::host::HttpRequest,
        ) -> Result<crate::host::HttpResponse, crate::host::HttpError>,
    >;

    /// What [`crate::host`] answers in a native build.
    #[derive(Default)]
    pub struct Fixture {
        /// Configuration properties.
        pub config: BTreeMap<String, String>,
        /// The time `host::now()` returns.
        pub now: i64,
        /// Lines passed to `host::log`.
        pub logs: Vec<(crate::host::Level, String)>,
        /// What `host::fetch` answers (none: every request is denied).
        pub http: Option<Responder>,
    }

    thread_local! {
        static FIXTURE: RefCell<Fixture> = RefCell::new(Fixture::default());
    }

    /// Runs `f` on this thread's fixture.
    pub fn with<R>(f: impl FnOnce(&mut Fixture) -> R) -> R {
        FIXTURE.with(|x| f(&mut x.borrow_mut()))
    }

    /// Replaces this thread's configuration properties.
    pub fn set_config(pairs: &[(&str, &str)]) {
        with(|f| {
            f.config = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }

    /// Makes `host::fetch` on this thread answer with `respond`.
    pub fn set_http(
        respond: impl Fn(
            &crate::host::HttpRequest,
        ) -> Result<crate::host::HttpResponse, crate::host::HttpError>
        + 'static,
    ) {
        with(|f| f.http = Some(Box::new(respond)))
    }

    /// Sets the time `host::now()` returns on this thread.
    pub fn set_now(now: i64) {
        with(|f| f.now = now)
    }

    /// A confidential client with no grant types or scopes, for the contexts of unit tests.
    pub fn client(client_id: &str) -> crate::types::Client {
        crate::types::Client {
            client_id: client_id.into(),
            client_name: None,
            client_type: "confidential".into(),
            grant_types: vec![],
            scopes: vec![],
        }
    }

    /// Takes the lines logged so far on this thread.
    pub fn take_logs() -> Vec<(crate::host::Level, String)> {
        with(|f| std::mem::take(&mut f.logs))
    }
}
