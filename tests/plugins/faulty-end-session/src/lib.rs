//! Fault fixture for the end-session hook: config `mode` = `loop` spins until the deadline
//! stops it, `trap` panics; anything else renders a one-line page.

use std::hint::black_box;
use tessera_plugin_sdk::end_session::{Context, Guest};
use tessera_plugin_sdk::host;

/// The fixture.
pub struct FaultyEndSession;

impl Guest for FaultyEndSession {
    fn end_session(ctx: Context) -> Result<Option<String>, String> {
        match host::config("mode").unwrap_or_default().as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("fault fixture: trap"),
            _ => Ok(Some(format!(
                "<p id=\"faulty\">{} RPs</p>",
                ctx.frontchannel.len()
            ))),
        }
    }
}

tessera_plugin_sdk::export_plugin!(end_session: FaultyEndSession);
