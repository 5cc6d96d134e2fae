//! Fault fixture for the sandbox tests: an update-token plugin whose `mode` property picks how
//! it misbehaves. `ok` answers `{"generation": <config.generation>}` (the hot-reload test tells
//! versions apart by it).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use tessera_plugin_sdk::host;
use tessera_plugin_sdk::update_token::{Context, Guest, Update};

/// The fixture.
pub struct Faulty;

impl Guest for Faulty {
    fn update_token(_ctx: Context) -> Result<Update, String> {
        let mode = host::config("mode").unwrap_or_default();
        match mode.as_str() {
            // Spins until the host's deadline stops it.
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            // Allocates and keeps 1 MiB blocks until the memory cap stops it.
            "bomb" => {
                let mut keep: Vec<Vec<u8>> = Vec::new();
                loop {
                    keep.push(black_box(vec![1u8; 1 << 20]));
                    black_box(&keep);
                }
            }
            "trap" => panic!("fault fixture: trap"),
            "err" => Err("fault fixture: err".into()),
            // 2 MiB of claims: over the default 1 MiB result cap.
            "oversize" => Ok(Update {
                set_claims: Some(format!("{{\"big\":\"{}\"}}", "x".repeat(2 << 20))),
                remove_claims: vec![],
                lifetime: None,
            }),
            // 100 names that all point at the same 1 MiB of guest memory: 1 MiB to the guest,
            // 100 MiB for a host that copied before checking.
            "alias" => Ok(Update {
                set_claims: None,
                remove_claims: aliased(1 << 20, 100),
                lifetime: None,
            }),
            // A 2 MiB log message: over what the host copies out of a guest in one transfer.
            "loud" => {
                host::log(host::Level::Info, &"x".repeat(2 << 20));
                Ok(Update {
                    set_claims: None,
                    remove_claims: vec![],
                    lifetime: None,
                })
            }
            // Looks for anything WASI could leak: environment, arguments, files, network.
            "snoop" => {
                let env = std::env::vars().count();
                let args = std::env::args().count();
                let root = match std::fs::read_dir("/") {
                    Ok(d) => format!("listed {} entries", d.count()),
                    Err(_) => "denied".into(),
                };
                let passwd = match std::fs::read("/etc/passwd") {
                    Ok(_) => "read",
                    Err(_) => "denied",
                };
                let net = match std::net::TcpStream::connect("127.0.0.1:5432") {
                    Ok(_) => "connected",
                    Err(_) => "denied",
                };
                println!("stdout leads nowhere");
                eprintln!("stderr leads nowhere");
                Ok(Update {
                    set_claims: Some(format!(
                        "{{\"env\":{env},\"args\":{args},\"root\":\"{root}\",\"passwd\":\"{passwd}\",\"net\":\"{net}\"}}"
                    )),
                    remove_claims: vec![],
                    lifetime: None,
                })
            }
            // Counts the calls this instance has served: a fresh instance per call says 1.
            "count" => {
                static CALLS: AtomicU32 = AtomicU32::new(0);
                let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
                Ok(Update {
                    set_claims: Some(format!("{{\"calls\":{n}}}")),
                    remove_claims: vec![],
                    lifetime: None,
                })
            }
            "protected" => Ok(Update {
                set_claims: Some(
                    host::config("claims").unwrap_or_else(|| "{\"sub\":\"someone-else\"}".into()),
                ),
                remove_claims: vec![],
                lifetime: None,
            }),
            _ => Ok(Update {
                set_claims: Some(format!(
                    "{{\"generation\":\"{}\"}}",
                    host::config("generation").unwrap_or_default()
                )),
                remove_claims: vec![],
                lifetime: None,
            }),
        }
    }
}

/// `count` strings sharing one buffer of `len` bytes, as a hostile guest can lay out its result
/// (the canonical ABI only sees pointer/length pairs). The strings are never dropped by Rust; the
/// result's post-return frees them, which this fixture does not survive, and need not.
#[allow(unsafe_code)]
fn aliased(len: usize, count: usize) -> Vec<String> {
    let buffer: &'static mut str = "x".repeat(len).leak();
    (0..count)
        // SAFETY: none, on purpose: the strings alias one buffer. The guest exits through the
        // host's refusal or a trap in post-return; no Rust code reads or frees them.
        .map(|_| unsafe { String::from_raw_parts(buffer.as_mut_ptr(), len, len) })
        .collect()
}

tessera_plugin_sdk::export_plugin!(update_token: Faulty);
