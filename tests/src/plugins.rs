//! Plugin fixtures: builds every example plugin and the fault fixture from source (once per
//! test process, through `plugins/build.sh`, whose outputs are cached under `target/`), and
//! installs them into a server's plugins directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where compiled plugins are cached for every test server (so CPython and SpiderMonkey
/// components compile once per machine, not once per test).
pub fn compiled_cache() -> PathBuf {
    root().join("target/tmp/plugin-cache")
}

/// Runs `plugins/build.sh` (once per process) and returns its output directory, which holds
/// `NAME.wasm` + `NAME.toml` (sha256 filled in) for every example and `faulty`.
pub fn built() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("plugins/build.sh"))
            .output()
            .expect("running plugins/build.sh");
        assert!(
            out.status.success(),
            "plugins/build.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// Copies the built plugin `name` (wasm + manifest) into `dir`.
pub fn install(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for ext in ["wasm", "toml"] {
        std::fs::copy(
            built().join(format!("{name}.{ext}")),
            dir.join(format!("{name}.{ext}")),
        )
        .unwrap();
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    tessera::crypto::secrets::sha256_hex(bytes)
}

/// Installs `wasm` as plugin `name` with a manifest of `hook`, the right sha256, and `extra`
/// TOML appended (tables such as `[config]`, `[limits]`, `[bindings]`). Files are written under
/// temporary names and renamed into place, wasm first, so a reload never reads half a file.
pub fn install_as(dir: &Path, name: &str, hook: &str, wasm: &[u8], extra: &str) {
    let manifest = format!(
        "name = \"{name}\"\nhook = \"{hook}\"\nversion = \"1.0.0\"\nsha256 = \"{}\"\n{extra}",
        sha256_hex(wasm)
    );
    write_atomically(&dir.join(format!("{name}.wasm")), wasm);
    write_atomically(&dir.join(format!("{name}.toml")), manifest.as_bytes());
}

/// Writes `path` through a hidden temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) {
    let dir = path.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The bytes of built plugin `name`.
pub fn wasm(name: &str) -> Vec<u8> {
    std::fs::read(built().join(format!("{name}.wasm"))).unwrap()
}

/// `wasm` with a custom section appended: different bytes and sha256, same behaviour.
pub fn with_custom_section(wasm: &[u8], label: &str) -> Vec<u8> {
    let name = b"tessera-test";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(label.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    let mut n = payload.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}

/// A `client_credentials` grant of `client_id` (what update-token plugins see in tests).
pub fn cc_grant(client_id: &str) -> tessera::model::Grant {
    tessera::model::Grant::for_client(
        "g".into(),
        client_id.into(),
        "client_credentials",
        "a".into(),
        0,
    )
}

/// One update-token call through the hooks facade for an access token of `client`.
pub async fn update_token_call(
    hooks: &tessera::plugins::Hooks,
    client: &tessera::model::Client,
) -> Result<(serde_json::Map<String, serde_json::Value>, i64), tessera::plugins::HookError> {
    let grant = cc_grant(&client.client_id);
    hooks
        .update_token(tessera::plugins::TokenDraft {
            kind: tessera::plugins::bindings::types::TokenKind::AccessToken,
            client,
            grant: &grant,
            claims: serde_json::Map::new(),
            lifetime: 60,
        })
        .await
}
