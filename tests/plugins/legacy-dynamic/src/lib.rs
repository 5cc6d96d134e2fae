//! Test fixture: a dynamic-scope plugin built against `tessera:plugin@0.1.0` (the frozen
//! `wit/v0.1/`), without the SDK (which follows the current version). It proves that plugins of
//! the previous minor keep loading and answering: it adds `{"legacy": "<scope> via 0.1",
//! "legacy_config": <config "label">}`.

#![allow(unsafe_code)]
// wit-bindgen's generated glue.
// Only a wasm build has the host to import from and the component to export; natively (the
// workspace's tests and lints) the crate is empty.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../../wit/v0.1",
    world: "dynamic-scope-plugin",
});

use exports::tessera::plugin::dynamic_scope::{Context, Guest};
use tessera::plugin::host;

/// The fixture.
pub struct Legacy;

impl Guest for Legacy {
    fn dynamic_scope(ctx: Context) -> Result<String, String> {
        let label = host::config("label").unwrap_or_default();
        Ok(format!(
            r#"{{"legacy":"{} via 0.1","legacy_config":"{}"}}"#,
            ctx.scope.replace(['"', '\\'], ""),
            label.replace(['"', '\\'], "")
        ))
    }
}

export!(Legacy);
