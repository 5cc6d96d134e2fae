//! Fault fixture for the introspection hook: config `mode` = `loop` spins until the deadline
//! stops it, `trap` panics; anything else leaves the response unchanged.

use std::hint::black_box;
use tessera_plugin_sdk::host;
use tessera_plugin_sdk::introspection::{Context, Guest, Outcome};

/// The fixture.
pub struct FaultyIntrospection;

impl Guest for FaultyIntrospection {
    fn introspection(_ctx: Context) -> Result<Outcome, String> {
        match host::config("mode").unwrap_or_default().as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("fault fixture: trap"),
            _ => Ok(Outcome::Unchanged),
        }
    }
}

tessera_plugin_sdk::export_plugin!(introspection: FaultyIntrospection);
