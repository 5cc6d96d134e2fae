//! The `tessera` binary itself: configuration errors stop start-up with one line naming the
//! key; `client create|list`, `keys rotate|list`, `scope create|update|delete|list`,
//! `user create|update`, `session list|revoke`, `admin init`, `config show|set|unset` and `migrate`
//! work on a fresh SQLite database; the resource commands also work with `--server` through a
//! running server's admin API.

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
    assert!(
        list.starts_with("CLIENT ID  "),
        "a table by default: {list}"
    );
    assert!(list.contains(created["client_id"].as_str().unwrap()));
    assert!(!list.contains(secret), "secrets are never listed");

    let (ok, _, err) = run_json(
        dir.path(),
        &["client", "create"],
        r#"{"token_endpoint_auth_method":"magic"}"#,
    );
    assert!(!ok);
    assert!(err.contains("invalid_client_metadata"), "{err}");

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
    let out = tessera(dir.path())
        .args(["keys", "list", "--json"])
        .output()
        .unwrap();
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

/// Runs `tessera ARGS` with `stdin`; (success, stdout as JSON or null, stderr).
fn run_json(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (bool, serde_json::Value, String) {
    let mut cmd = tessera(dir);
    cmd.args(args);
    let (ok, out, err) = run_with_stdin(cmd, stdin);
    let json = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
    (ok, json, err)
}

/// Runs `cmd` with `stdin`; whether it succeeded, its stdout and its stderr.
fn run_with_stdin(mut cmd: Command, stdin: &str) -> (bool, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scope_and_user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Custom OpenID scope over a custom attribute, then the standard scopes are listed beside it.
    let (ok, created, err) = run_json(
        d,
        &["scope", "create"],
        r#"{"id":"badge","scope_type":"openid","description":"Your badge","claims":["badge_no","badge_no"]}"#,
    );
    assert!(ok, "{err}");
    assert_eq!(created["claims"], serde_json::json!(["badge_no"]));
    assert_eq!(created["creator"], "user");
    let (ok, list, _) = run_json(d, &["scope", "list", "--type", "openid", "--json"], "");
    assert!(ok);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for id in [
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "offline_access",
        "badge",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    // A standard scope's claims can change; it cannot be deleted.
    let (ok, email, err) = run_json(d, &["scope", "update", "email"], r#"{"claims":["email"]}"#);
    assert!(ok, "{err}");
    assert_eq!(email["claims"], serde_json::json!(["email"]));
    let (ok, _, err) = run_json(d, &["scope", "delete", "email"], "");
    assert!(!ok && err.contains("standard"), "{err}");
    // Refusals name the field.
    for (input, field) in [
        (
            r#"{"id":"x","scope_type":"oauth","claims":["a"]}"#,
            "claims",
        ),
        (r#"{"id":"x","scope_type":"spontaneous"}"#, "scope_type"),
        (r#"{"id":"x","scope_type":"magic"}"#, "scope_type"),
        (r#"{"id":"x y","scope_type":"oauth"}"#, "id"),
        (
            r#"{"id":"x","scope_type":"openid","claims":["sub"]}"#,
            "claims",
        ),
        (r#"{"id":"badge","scope_type":"openid"}"#, "id"),
        (
            r#"{"id":"x","scope_type":"openid","colour":"red"}"#,
            "colour",
        ),
    ] {
        let (ok, _, err) = run_json(d, &["scope", "create"], input);
        assert!(!ok && err.contains(field), "{input}: {err}");
    }
    let (ok, _, err) = run_json(
        d,
        &["scope", "update", "badge"],
        r#"{"scope_type":"oauth"}"#,
    );
    assert!(
        !ok && err.contains("scope_type: cannot be changed"),
        "{err}"
    );
    let (ok, deleted, err) = run_json(d, &["scope", "delete", "badge"], "");
    assert!(ok, "{err}");
    assert_eq!(deleted["deleted"], "badge");
    let (ok, _, err) = run_json(d, &["scope", "delete", "badge"], "");
    assert!(!ok && err.contains("no scope"), "{err}");

    // Users carry custom attributes beside the standard claims; `null` removes one.
    let (ok, user, err) = run_json(
        d,
        &["user", "create"],
        r#"{"username":"ann","password":"password123","email":"ann@example.com","badge_no":"B-7","groups":["staff"]}"#,
    );
    assert!(ok, "{err}");
    assert_eq!(user["badge_no"], "B-7");
    let (ok, user, err) = run_json(
        d,
        &["user", "update", "ann"],
        r#"{"badge_no":null,"groups":["staff","admins"],"email_verified":true}"#,
    );
    assert!(ok, "{err}");
    assert!(user.get("badge_no").is_none(), "{user}");
    assert_eq!(user["groups"], serde_json::json!(["staff", "admins"]));
    assert_eq!(user["email_verified"], true);
    for (input, field) in [
        (r#"{"sub":"me"}"#, "sub"),
        (r#"{"email_verified":"yes"}"#, "email_verified"),
        (r#"{"username":"bob"}"#, "username"),
        (r#"{"password":"short"}"#, "password"),
    ] {
        let (ok, _, err) = run_json(d, &["user", "update", "ann"], input);
        assert!(!ok && err.contains(field), "{input}: {err}");
    }
    let (ok, _, err) = run_json(d, &["user", "update", "nobody"], "{}");
    assert!(!ok && err.contains("no user"), "{err}");
}

#[test]
fn session_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, alice, err) = run_json(
        d,
        &["user", "create"],
        r#"{"username":"alice","password":"password123"}"#,
    );
    assert!(ok, "{err}");
    let user_id = alice["sub"].as_str().unwrap().to_string();
    // Two browser sessions of alice's, as two logins would leave them.
    let url = format!("sqlite://{}/data/tessera.db", d.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sids: Vec<String> = rt.block_on(async {
        let store = tessera::store::Store::connect(&url, 1).await.unwrap();
        let now = tessera::clock::Clock::now(&tessera::clock::SystemClock);
        let mut sids = Vec::new();
        for n in 0..2 {
            let row = tessera::store::SessionRow {
                session_id: format!("sid-{n}"),
                user_id: user_id.clone(),
                auth_time: now,
                acr: "pwd".into(),
                amr: vec!["pwd".into()],
                created_at: now + n,
                last_used_at: now,
                expires_at: now + 3600,
            };
            store
                .insert_session(&row, &format!("cookie-{n}"), None)
                .await
                .unwrap();
            sids.push(row.session_id);
        }
        store.close().await;
        sids
    });
    let (ok, list, err) = run_json(d, &["session", "list", "--user", "alice", "--json"], "");
    assert!(ok, "{err}");
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["sid-1", "sid-0"], "newest first");
    let (ok, out, err) = run_json(d, &["session", "revoke", &sids[0]], "");
    assert!(ok, "{err}");
    assert_eq!(out["ended"], 1);
    let (ok, list, _) = run_json(d, &["session", "list", "--json"], "");
    assert!(ok);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (ok, out, err) = run_json(d, &["session", "revoke", "--user", "alice"], "");
    assert!(ok, "{err}");
    assert_eq!(out["ended"], 1);
    let (ok, list, _) = run_json(d, &["session", "list", "--user", "alice", "--json"], "");
    assert!(ok);
    assert_eq!(list, serde_json::json!([]));
    // Unknown names fail with a message, and naming both is refused by the parser.
    let (ok, _, err) = run_json(d, &["session", "revoke", "sid-0"], "");
    assert!(!ok && err.contains("no session sid-0"), "{err}");
    let (ok, _, err) = run_json(d, &["session", "list", "--user", "bob", "--json"], "");
    assert!(!ok && err.contains("no user bob"), "{err}");
    let (ok, _, _) = run_json(d, &["session", "revoke", "sid-1", "--user", "alice"], "");
    assert!(!ok);
}

#[test]
fn admin_init_makes_the_admin_client_and_the_first_administrator_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = run(tessera(dir.path()).args(["admin", "init"]));
    assert_eq!(first["client_id"], "tessera-admin");
    assert_eq!(first["admin_user"], "admin");
    let password = first["admin_password"].as_str().unwrap();
    assert!(password.len() >= 20, "{password}");
    // The password is shown once and never stored as given.
    let users = run(tessera(dir.path()).args(["user", "list", "--json"]));
    assert_eq!(users[0]["username"], "admin");
    assert_eq!(users[0]["tessera_roles"], serde_json::json!(["admin"]));
    assert!(!users.to_string().contains(password));
    // Again: the client exists, so only --rotate works, and no second administrator appears.
    let out = tessera(dir.path())
        .args(["admin", "init"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let rotated = run(tessera(dir.path()).args(["admin", "init", "--rotate"]));
    assert_ne!(rotated["client_secret"], first["client_secret"]);
    assert!(rotated.get("admin_user").is_none(), "{rotated}");
    // A chosen name and password on another database.
    let other = tempfile::tempdir().unwrap();
    let chosen = run(tessera(other.path())
        .args(["admin", "init"])
        .env("TESSERA_ADMIN_USERNAME", "root")
        .env("TESSERA_ADMIN_PASSWORD", "a-long-admin-password"));
    assert_eq!(chosen["admin_user"], "root");
    assert!(chosen.get("admin_password").is_none(), "{chosen}");
}

#[test]
fn config_commands_change_the_stored_run_time_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = tessera(dir.path()).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = run(&[
        "config",
        "set",
        "tokens.access_token_lifetime=900",
        "features.introspection=false",
        "acr.enabled=[\"simple_password_auth\",\"passkey\"]",
    ]);
    assert!(ok, "{err}");
    let set: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(set["revision"], 1);
    let (ok, out, err) = run(&["config", "show"]);
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["settings"]["tokens"]["access_token_lifetime"], 900);
    assert_eq!(shown["settings"]["features"]["introspection"], false);
    assert_eq!(
        shown["settings"]["acr"]["enabled"],
        serde_json::json!(["simple_password_auth", "passkey"])
    );
    assert_eq!(shown["overrides"], set["overrides"]);
    // Refused with the key: a start-up setting, an unknown key, a bad value; nothing stored.
    for (pair, key) in [
        ("listen=0.0.0.0:1", "listen"),
        ("tokens.bogus=1", "tokens.bogus"),
        ("acr.default=otp", "acr.default"),
    ] {
        let (ok, _, err) = run(&["config", "set", pair]);
        assert!(!ok, "{pair}");
        assert!(err.contains(&format!("{key}: ")), "{pair}: {err}");
    }
    // Unset: back to the default; a value equal to the default is no override either.
    let (ok, out, err) = run(&["config", "unset", "features.introspection", "acr.enabled"]);
    assert!(ok, "{err}");
    let (ok, out2, err2) = run(&["config", "set", "tokens.access_token_lifetime=3600"]);
    assert!(ok, "{err2}");
    let unset: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        unset["overrides"],
        serde_json::json!({"tokens": {"access_token_lifetime": 900}})
    );
    let reset: serde_json::Value = serde_json::from_str(&out2).unwrap();
    assert_eq!(reset["overrides"], serde_json::json!({}));
    assert_eq!(reset["revision"], 3);
}

/// A `tessera serve` child on `127.0.0.1:0`; its address is read from its start-up log line.
struct Served {
    child: std::process::Child,
    base: String,
    /// What it wrote before serving.
    early: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Served {
    use std::io::BufRead as _;
    let mut child = tessera(dir)
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let mut early = String::new();
    let base = loop {
        let line = lines
            .next()
            .expect("the server stopped before serving")
            .unwrap();
        early.push_str(&line);
        early.push('\n');
        if line.contains("tessera is serving")
            && let Some(addr) = line.split("listen=").nth(1)
        {
            break format!("http://{}", addr.split_whitespace().next().unwrap());
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, base, early }
}

#[test]
fn the_first_start_makes_the_first_administrator_and_the_consoles_client() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(dir.path());
    // The generated password is shown once, on the terminal, not in a log line.
    let line = srv
        .early
        .lines()
        .find(|l| l.starts_with("First administrator: admin / "))
        .unwrap_or_else(|| panic!("{}", srv.early));
    let password = line.trim_start_matches("First administrator: admin / ");
    assert!(password.len() >= 20, "{line}");
    assert_eq!(srv.early.matches(password).count(), 1, "{}", srv.early);
    drop(srv);
    let users = tessera(dir.path())
        .args(["user", "list", "--json"])
        .output()
        .unwrap();
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["username"], "admin");
    assert_eq!(users[0]["tessera_roles"], serde_json::json!(["admin"]));
    let clients = tessera(dir.path())
        .args(["client", "list", "--json"])
        .output()
        .unwrap();
    let clients: serde_json::Value = serde_json::from_slice(&clients.stdout).unwrap();
    let ui = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "tessera-admin-ui")
        .unwrap();
    assert_eq!(ui["token_endpoint_auth_method"], "none");
    assert_eq!(ui["require_pkce"], true);
    // A second start makes no other administrator and prints no password.
    let again = serve(dir.path());
    assert!(
        !again.early.contains("First administrator"),
        "{}",
        again.early
    );
}

#[test]
fn resource_commands_work_through_a_running_servers_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "a-chosen-admin-secret-0123456789";
    let init = tessera(dir.path())
        .args(["admin", "init"])
        .env("TESSERA_ADMIN_CLIENT_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let srv = serve(dir.path());
    let remote = |args: &[&str], stdin: &str| {
        let mut cmd = tessera(dir.path());
        cmd.arg("--server")
            .arg(&srv.base)
            .args(args)
            .env("TESSERA_ADMIN_CLIENT_SECRET", secret);
        run_with_stdin(cmd, stdin)
    };
    // A table by default: the admin client and the console's client the server made.
    let (ok, out, err) = remote(&["client", "list"], "");
    assert!(ok, "{err}");
    assert!(out.starts_with("CLIENT ID  "), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("tessera-admin ")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("tessera-admin-ui ")),
        "{out}"
    );
    assert!(!out.contains(secret));
    // Changes go through the API: validated, and in force on the server at once.
    let (ok, out, err) = remote(
        &["scope", "create"],
        r#"{"id": "remote.read", "scope_type": "oauth", "description": "Made remotely"}"#,
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"remote.read\""), "{out}");
    let (ok, out, err) = remote(
        &["scope", "update", "remote.read"],
        r#"{"description": "Changed"}"#,
    );
    assert!(ok, "{err}: {out}");
    let (ok, out, _) = remote(&["scope", "list", "--type", "oauth", "--json"], "");
    assert!(ok);
    let scopes: serde_json::Value = serde_json::from_str(&out).unwrap();
    let made = scopes
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "remote.read")
        .unwrap();
    assert_eq!(made["description"], "Changed");
    let (ok, out, err) = remote(&["config", "set", "tokens.access_token_lifetime=900"], "");
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["overrides"],
        serde_json::json!({"tokens": {"access_token_lifetime": 900}})
    );
    let (ok, out, _) = remote(&["config", "show"], "");
    assert!(ok);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["tokens.access_token_lifetime", "900"]),
        "{out}"
    );
    // A bad value is refused with the key, as the API refuses it.
    let (ok, _, err) = remote(&["config", "set", "tokens.access_token_lifetime=soon"], "");
    assert!(!ok);
    assert!(err.contains("access_token_lifetime"), "{err}");
    let (ok, out, err) = remote(&["keys", "list"], "");
    assert!(ok, "{err}");
    assert!(out.starts_with("KID  "), "{out}");
    let (ok, out, _) = remote(&["scope", "delete", "remote.read"], "");
    assert!(ok, "{out}");
    let (ok, _, err) = remote(&["config", "unset", "tokens.access_token_lifetime"], "");
    assert!(ok, "{err}");
    let (ok, out, _) = remote(&["config", "show", "--json"], "");
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["overrides"],
        serde_json::json!({})
    );
    // Users and administrators.
    let (ok, out, err) = remote(
        &["user", "create"],
        r#"{"username": "erin", "password": "password123", "nickname": "E"}"#,
    );
    assert!(ok, "{err}: {out}");
    let (ok, out, err) = remote(
        &["user", "update", "erin"],
        r#"{"nickname": null, "tessera_roles": ["admin"], "email": "erin@example.com"}"#,
    );
    assert!(ok, "{err}: {out}");
    let erin: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(erin["tessera_roles"], serde_json::json!(["admin"]));
    assert_eq!(erin["email"], "erin@example.com");
    assert!(erin.get("nickname").is_none(), "{erin}");
    let (ok, out, _) = remote(&["user", "list"], "");
    assert!(ok);
    assert!(out.starts_with("USERNAME  "), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("erin ") && l.ends_with("admin")),
        "{out}"
    );
    // What the admin API cannot do is refused by name; a wrong secret is refused.
    let (ok, _, err) = remote(&["migrate"], "");
    assert!(!ok);
    assert!(err.contains("works on the server's host only"), "{err}");
    let out = tessera(dir.path())
        .args(["--server", &srv.base, "client", "list"])
        .env("TESSERA_ADMIN_CLIENT_SECRET", "not-the-secret-at-all-0000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused the admin client's credentials"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first start made the first administrator.
    let users = tessera(dir.path())
        .args(["user", "list", "--json"])
        .output()
        .unwrap();
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users[0]["username"], "admin");
    assert_eq!(users[0]["tessera_roles"], serde_json::json!(["admin"]));
}
