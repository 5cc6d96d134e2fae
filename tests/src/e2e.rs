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

/// Installs the pinned Python packages into `TMP/py-e2e` (pass the test's
/// `CARGO_TARGET_TMPDIR`, under `target/`) unless they are there; returns the directory to put
/// on `PYTHONPATH`.
pub fn pip_install(tmp: &std::path::Path) -> PathBuf {
    let target = tmp.join("py-e2e");
    let req = dir().join("requirements.txt");
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
