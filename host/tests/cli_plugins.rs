//! `tessera plugin check|test|list` on the example plugins, built from source by
//! `plugins/build.sh` (cached under `target/`).

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn built() -> PathBuf {
    static OUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OUT.get_or_init(build).clone()
}

fn build() -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("plugins/build.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plugins/build.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn tessera(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.current_dir(data)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", data)
        // The test suite's master key: the compiled-plugin cache is authenticated with it.
        .env(
            "TESSERA_MASTER_KEY",
            "dGVzc2VyYS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM",
        )
        // Share compiled components with the rest of the suite (CPython takes seconds).
        .env(
            "TESSERA_PLUGINS__CACHE_DIR",
            root().join("target/tmp/plugin-cache"),
        );
    c
}

#[test]
fn plugin_test_runs_every_example_on_its_fixture() {
    let out = built();
    let data = tempfile::tempdir().unwrap();
    for (name, expect) in [
        ("add-tenant-claims", "\"tenant\": \"acme\""),
        ("revoke-guard", "\"error\": \"access_denied\""),
        ("org-claims", "\"name\": \"Example Corp\""),
        ("introspection-tenant", "\"tenant\": \"acme\""),
        ("logout-page", "You are signed out of Acme"),
    ] {
        let r = tessera(data.path())
            .args(["plugin", "test"])
            .arg(out.join(format!("{name}.wasm")))
            .arg("--input")
            .arg(root().join(format!("plugins/{name}/fixture.json")))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&r.stdout);
        assert!(
            r.status.success(),
            "{name}: {stdout}\n{}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(stdout.contains(expect), "{name}: {stdout}");
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["failed"], false);
        assert!(report["call_micros"].as_u64().unwrap() > 0);
        assert!(report["peak_memory_bytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn plugin_check_names_the_hook_or_refuses_clearly() {
    let out = built();
    let data = tempfile::tempdir().unwrap();
    let r = tessera(data.path())
        .args(["plugin", "check"])
        .arg(out.join("org-claims.wasm"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let i: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(i["hook"], "dynamic-scope");
    assert_eq!(i["world"], "dynamic-scope-plugin");
    assert_eq!(i["wit_version"], "0.2.0");
    assert!(
        i["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "tessera:plugin/host@0.2.0")
    );
    // A plugin built against the previous minor is accepted as such.
    let r = tessera(data.path())
        .args(["plugin", "check"])
        .arg(out.join("legacy-dynamic.wasm"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let i: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(i["hook"], "dynamic-scope");
    assert_eq!(i["wit_version"], "0.1.0");
    assert!(
        i["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "tessera:plugin/host@0.1.0")
    );

    let core = data.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let empty = data.path().join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x0d\0\x01\0").unwrap();
    let text = data.path().join("text.wasm");
    std::fs::write(&text, b"hello").unwrap();
    for (file, why) in [
        (&core, "not a component: this is a core WebAssembly module"),
        (&empty, "wrong world: the component exports no Tessera hook"),
        (&text, "not a component: the file is not WebAssembly"),
    ] {
        let r = tessera(data.path())
            .args(["plugin", "check"])
            .arg(file)
            .output()
            .unwrap();
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn plugin_list_reports_loaded_and_refused_plugins() {
    let out = built();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for ext in ["wasm", "toml"] {
        std::fs::copy(
            out.join(format!("revoke-guard.{ext}")),
            dir.join(format!("revoke-guard.{ext}")),
        )
        .unwrap();
    }
    // A wasm whose manifest names another file's hash.
    std::fs::copy(out.join("logout-page.wasm"), dir.join("broken.wasm")).unwrap();
    std::fs::write(
        dir.join("broken.toml"),
        format!(
            "name = \"broken\"\nhook = \"end-session\"\nsha256 = \"{}\"\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let r = tessera(data.path())
        .args(["plugin", "list"])
        .env("TESSERA_PLUGINS_DIR", &dir)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    let plugins = v["plugins"].as_array().unwrap();
    let find = |n: &str| plugins.iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(find("revoke-guard")["state"], "loaded");
    assert_eq!(find("revoke-guard")["version"], "1.0.0");
    let broken = find("broken");
    assert_eq!(broken["state"], "refused");
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("sha256 mismatch"),
        "{broken}"
    );
}
