//! Fault fixture for the dynamic-scope hook: config `mode` = `loop` spins until the deadline
//! stops it, `trap` panics, `err` returns a plugin error; anything else adds `{"fixture": "ok"}`.

use std::hint::black_box;
use tessera_plugin_sdk::dynamic_scope::{Context, Guest};
use tessera_plugin_sdk::host;

/// The fixture.
pub struct FaultyDynamic;

impl Guest for FaultyDynamic {
    fn dynamic_scope(_ctx: Context) -> Result<String, String> {
        match host::config("mode").unwrap_or_default().as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("fault fixture: trap"),
            "err" => Err("fault fixture: error".into()),
            _ => Ok(r#"{"fixture":"ok"}"#.into()),
        }
    }
}

tessera_plugin_sdk::export_plugin!(dynamic_scope: FaultyDynamic);
