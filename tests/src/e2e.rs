//! Third-party clients for end-to-end tests, installed on demand so `cargo test` works on a
//! fresh machine: the pinned npm packages of `tests/e2e` (`npm ci`), Debian's Chromium, and the
//! pinned PyPI packages of `tests/e2e/requirements.txt` (into a directory under `target/`).

use std::path::PathBuf;
use std::process::Command;

/// `tests/e2e`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Installs the pinned npm packages from package-lock.json unless they are there. Several test
/// binaries may ask at once; `flock` makes them take turns.
pub fn npm_install() {
    let d = dir();
    let have = ["openid-client", "jose", "playwright-core"]
        .iter()
        .all(|p| d.join("node_modules").join(p).join("package.json").exists());
    if !have {
        run(
            Command::new("flock")
                .args([
                    "/tmp/tessera-npm.lock",
                    "npm",
                    "ci",
                    "--no-audit",
                    "--no-fund",
                ])
                .current_dir(&d),
            "npm ci",
        );
    }
}

/// Installs Debian's `chromium` when `/usr/bin/chromium` is missing (needs root, as on CI).
pub fn ensure_chromium() {
    if std::path::Path::new("/usr/bin/chromium").exists() {
        return;
    }
    run(
        Command::new("flock").args([
            "/tmp/tessera-apt.lock",
            "sh",
            "-c",
            "test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }",
        ]),
        "installing Debian chromium",
    );
}

/// Installs the pinned Python packages of `tests/e2e/requirements.txt` into `TMP/py-e2e`
/// (pass the test's `CARGO_TARGET_TMPDIR`, under `target/`) unless they are there; returns the
/// directory to put on `PYTHONPATH`.
pub fn pip_install(tmp: &std::path::Path) -> PathBuf {
    pip_install_from(tmp, "requirements.txt")
}

/// Installs the pinned Python packages of `tests/e2e/REQUIREMENTS` into a folder of their own
/// under `TMP` (so that tools with many dependencies do not disturb the client libraries'),
/// unless they are there; returns the directory to put on `PYTHONPATH`.
pub fn pip_install_from(tmp: &std::path::Path, requirements: &str) -> PathBuf {
    let target = match requirements {
        "requirements.txt" => tmp.join("py-e2e"),
        other => tmp.join(format!("py-{}", other.trim_end_matches(".txt"))),
    };
    let req = dir().join(requirements);
    let stamp = target.join(".requirements");
    let wanted = std::fs::read_to_string(&req).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(
            Command::new("flock")
                .arg("/tmp/tessera-pip.lock")
                .args([
                    "python3",
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--upgrade",
                    "--target",
                ])
                .arg(&target)
                .arg("-r")
                .arg(&req),
            "pip install",
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    target
}

/// Parses an OpenMetrics exposition with the Prometheus project's own parser (PyPI
/// `prometheus-client`, `tests/e2e/parse_metrics.py`) and returns its samples as
/// `{"name", "labels", "value"}`; panics if the text is malformed. `tmp`: the test's
/// `CARGO_TARGET_TMPDIR`, as for [`pip_install`].
pub async fn parse_openmetrics(tmp: &str, text: &str) -> Vec<serde_json::Value> {
    let tmp = std::path::PathBuf::from(tmp);
    let pythonpath = tokio::task::spawn_blocking(move || pip_install(&tmp))
        .await
        .unwrap();
    let mut child = tokio::process::Command::new("python3")
        .arg(dir().join("parse_metrics.py"))
        .env("PYTHONPATH", &pythonpath)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "the exposition does not parse:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs `node --test FILE` in `tests/e2e` with `env` in `TESSERA_E2E`, and asserts that all
/// `expected` node tests passed.
pub async fn run_node(file: &str, env: &serde_json::Value, expected: usize) {
    let out = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", file])
        .current_dir(dir())
        .env("TESSERA_E2E", env.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{file} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("pass {expected}")),
        "all {expected} node tests ran: {stdout}"
    );
}

/// Debian's Apache with `libapache2-mod-auth-openidc`, installed when missing (needs root and
/// the Debian mirror, as on CI). Returns the `apache2` binary, or why it cannot be had (the
/// test then skips with that message).
pub fn ensure_apache() -> Result<PathBuf, String> {
    let binary = PathBuf::from("/usr/sbin/apache2");
    let module = std::path::Path::new(APACHE_MODULES).join("mod_auth_openidc.so");
    if !(binary.exists() && module.exists()) {
        let out = Command::new("flock")
            .args([
                "/tmp/tessera-apt.lock",
                "sh",
                "-c",
                "test -f /usr/lib/apache2/modules/mod_auth_openidc.so || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends apache2 libapache2-mod-auth-openidc; }",
            ])
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "installing Debian's apache2 and libapache2-mod-auth-openidc failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(binary)
}

/// Where Debian keeps Apache's modules.
pub const APACHE_MODULES: &str = "/usr/lib/apache2/modules";
