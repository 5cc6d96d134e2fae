//! The `tessera` binary itself: configuration errors stop start-up with one line naming the
//! key; `client create`, `client list`, `keys rotate`, `keys list` and `migrate` work on a
//! fresh SQLite database.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

fn tessera(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, key) in [
        ("TESSERA_LISTEN", "not-an-address", "listen"),
        ("TESSERA_ISSUER", "localhost", "issuer"),
        ("TESSERA_LOG__FORMAT", "yaml", "log.format"),
        (
            "TESSERA_TOKENS__ACCESS_TOKEN_LIFETIME",
            "soon",
            "TESSERA_TOKENS__ACCESS_TOKEN_LIFETIME",
        ),
    ] {
        let out = tessera(dir.path())
            .arg("serve")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} must stop start-up");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with(&format!("error: invalid configuration: {key}: ")),
            "{err}"
        );
    }
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = 5\n").unwrap();
    let out = tessera(dir.path())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("invalid configuration: listen")
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created when the configuration is bad"
    );
}

#[test]
fn client_and_key_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("data/tessera.db").exists(),
        "the default SQLite file is created"
    );

    let mut child = tessera(dir.path())
        .args(["client", "create"])
        .env("TESSERA_UNKNOWN_THING", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(br#"{"client_name":"cli","grant_types":["client_credentials"],"scope":"x y","access_token_as_jwt":true}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("unknown environment variable TESSERA_UNKNOWN_THING")
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256-bit secret");
    assert_eq!(created["client_secret_expires_at"], 0);

    let out = tessera(dir.path())
        .args(["client", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.contains(created["client_id"].as_str().unwrap()));
    assert!(!list.contains(secret), "secrets are never listed");

    let mut child = tessera(dir.path())
        .args(["client", "create"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"token_endpoint_auth_method":"magic"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_client_metadata"));

    for _ in 0..2 {
        let out = tessera(dir.path())
            .args(["keys", "rotate", "--alg", "ES256"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = tessera(dir.path()).args(["keys", "list"]).output().unwrap();
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(
        keys.len(),
        2,
        "the first rotation made a key, the second replaced it"
    );
    assert_eq!(keys.iter().filter(|k| k["status"] == "retiring").count(), 1);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("private"),
        "no private key material"
    );
}
