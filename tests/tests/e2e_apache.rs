//! Debian's `libapache2-mod-auth-openidc` (a certified relying party written in C) against
//! Tessera (issue 12): Apache protects a page on loopback; a browser signs in through Tessera's
//! login and consent pages; the user then signs out at Tessera, which delivers a back-channel
//! logout token to mod_auth_openidc; mod_auth_openidc drops its session and sends the browser
//! back to Tessera to log in again. The test installs Apache and the module from Debian when
//! they are missing and skips (with the reason) only where that is impossible.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::path::Path;
use tessera_tests::browser::{Browser, Page};
use tessera_tests::{Db, TestServer, e2e};

/// GETs `url` and follows every redirect (both servers), resolving relative locations.
async fn walk(b: &mut Browser, url: &str) -> (Page, String) {
    let mut at = url::Url::parse(url).unwrap();
    let mut page = b.get(at.as_str()).await;
    for _ in 0..20 {
        let Some(loc) = page.location.clone() else {
            return (page, at.into());
        };
        at = at.join(&loc).unwrap();
        page = b.get(at.as_str()).await;
    }
    panic!("redirect loop at {at}");
}

fn apache_config(dir: &Path, port: u16, issuer: &str, client_id: &str, secret: &str) -> String {
    let m = e2e::APACHE_MODULES;
    let d = dir.display();
    format!(
        r#"ServerName 127.0.0.1
Listen 127.0.0.1:{port}
# One process (-X) serves one connection at a time: no idle keep-alive connection may hold it
# while Tessera delivers the logout token.
KeepAlive Off
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
Mutex file:{d} default
ErrorLog {d}/error.log
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so
LoadModule authn_core_module {m}/mod_authn_core.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule authz_user_module {m}/mod_authz_user.so
LoadModule auth_openidc_module {m}/mod_auth_openidc.so
DocumentRoot {d}/htdocs
<Directory {d}/htdocs>
  Require all granted
</Directory>
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase tessera-e2e-passphrase
OIDCScope "openid email"
OIDCPKCEMethod S256
OIDCSessionType server-cache
OIDCCacheType shm
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mod_auth_openidc_signs_in_and_honours_back_channel_logout() {
    let apache = match tokio::task::spawn_blocking(e2e::ensure_apache)
        .await
        .unwrap()
    {
        Ok(a) => a,
        Err(why) => {
            eprintln!("SKIPPED: mod_auth_openidc is not available here: {why}");
            return;
        }
    };
    let srv = TestServer::start_with(Db::Sqlite, |s| {
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    srv.user("alice", json!({})).await;
    // A port for Apache: the kernel picks a free one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = format!("http://127.0.0.1:{port}");
    let redirect = format!("{site}/protected/redirect_uri");
    let reg = srv
        .web_client(json!({
            "client_name": "Apache mod_auth_openidc",
            "redirect_uris": [redirect],
            "backchannel_logout_uri": format!("{redirect}?logout=backchannel"),
            "backchannel_logout_session_required": true,
            "scope": "openid email",
        }))
        .await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("htdocs/protected")).unwrap();
    std::fs::write(
        dir.path().join("htdocs/protected/index.html"),
        "protected page",
    )
    .unwrap();
    // Apache's children run as www-data when started by root.
    for p in [
        dir.path().to_path_buf(),
        dir.path().join("htdocs"),
        dir.path().join("htdocs/protected"),
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let conf = dir.path().join("httpd.conf");
    std::fs::write(
        &conf,
        apache_config(
            dir.path(),
            port,
            &srv.base,
            &reg.client.client_id,
            reg.secret.as_deref().unwrap(),
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(&apache)
        .arg("-X")
        .arg("-f")
        .arg(&conf)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Apache is another process: wait until it accepts connections (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "apache2 exited ({status}): {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "apache2 did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();

    // Sign in: Apache sends the browser to Tessera, which asks for login and consent.
    let protected = format!("{site}/protected/index.html");
    let mut b = Browser::new(&srv.base);
    let (login, _) = walk(&mut b, &protected).await;
    assert!(
        login.body.contains("name=\"password\""),
        "{}\n{}",
        login.body,
        log()
    );
    let consent = b.login(&login, "alice", "password123").await;
    let back = b.consent(&consent, "allow").await;
    let (page, at) = walk(&mut b, back.location.as_deref().unwrap()).await;
    assert_eq!(page.status, 200, "{at}: {}\n{}", page.body, log());
    assert_eq!(page.body, "protected page");
    // mod_auth_openidc's own session now serves the page without Tessera.
    let again = b.get(&protected).await;
    assert_eq!((again.status, again.body.as_str()), (200, "protected page"));

    // The user signs out at Tessera (confirming on its page): the logout token reaches Apache.
    let ask = b.get("/end_session").await;
    let confirm = ask.field("confirm").expect("confirmation form");
    let done = b.post("/end_session", &[("confirm", &confirm)]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"signed-out\""), "{}", done.body);
    assert_eq!(
        (
            srv.state.logout_stats().delivered(),
            srv.state.logout_stats().failed()
        ),
        (1, 0),
        "{}",
        log()
    );
    // mod_auth_openidc dropped its session: back to Tessera, which asks for a login again.
    let (page, at) = walk(&mut b, &protected).await;
    assert!(
        at.starts_with(&srv.base) && page.body.contains("name=\"password\""),
        "{at}: {}\n{}",
        page.body,
        log()
    );
    child.kill().await.unwrap();
    srv.stop().await;
}
