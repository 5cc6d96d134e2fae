//! Fault fixture for the revoke-token hook: config `mode` = `loop` spins until the deadline
//! stops it, `trap` panics; anything else allows the revocation.

use std::hint::black_box;
use tessera_plugin_sdk::host;
use tessera_plugin_sdk::revoke_token::{Context, Decision, Guest};

/// The fixture.
pub struct FaultyRevoke;

impl Guest for FaultyRevoke {
    fn revoke_token(_ctx: Context) -> Result<Decision, String> {
        match host::config("mode").unwrap_or_default().as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "trap" => panic!("fault fixture: trap"),
            _ => Ok(Decision::Allow),
        }
    }
}

tessera_plugin_sdk::export_plugin!(revoke_token: FaultyRevoke);
