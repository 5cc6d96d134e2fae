//! The end-session hook through the real `/end_session` endpoint (issue 12): the Rust
//! `logout-page` and the Python `logout-notice` examples render the logout page, which is
//! served under a Content-Security-Policy allowing exactly the page's own inline scripts and
//! frames from the front-channel RPs' origins; a plugin that traps falls back per its
//! `on_error` (fail-open: the default page; fail-closed: `server_error`, the session ended
//! anyway).

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use serde_json::json;
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, Page, tokens_for};
use tessera_tests::plugins::{install, install_as, wasm};
use tessera_tests::rp::RecordingRp;
use tessera_tests::{Db, TestServer};

const BYE: &str = "https://rp.example/bye";

/// Signs alice in to `reg` in a fresh browser and logs her out with the ID token as hint.
async fn logout(srv: &TestServer, reg: &Registered) -> Page {
    let mut b = Browser::new(&srv.base);
    let t = tokens_for(srv, reg, &mut b, &[]).await;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("id_token_hint", t["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", BYE)
        .append_pair("state", "pl");
    let p = b.get(&format!("/end_session?{}", q.finish())).await;
    let status: serde_json::Value =
        serde_json::from_str(&b.get("/session_status").await.body).unwrap();
    assert_eq!(
        status["state"], "unauthenticated",
        "the session ends whatever the page"
    );
    p
}

fn csp(p: &Page) -> String {
    p.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string()
}

fn uninstall(srv: &TestServer, name: &str) {
    for ext in ["wasm", "toml"] {
        std::fs::remove_file(srv.plugins_dir().join(format!("{name}.{ext}"))).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_session_plugins_shape_the_logout_page() {
    let srv = TestServer::start_with(Db::Sqlite, |s| {
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    srv.user("alice", json!({})).await;
    let front = RecordingRp::start().await;
    let reg = srv
        .web_client(json!({
            "post_logout_redirect_uris": [BYE],
            "frontchannel_logout_uri": front.url("/frontchannel"),
            "frontchannel_logout_session_required": true,
        }))
        .await;
    let frame_src = format!("frame-src {}", front.base);

    // The Rust example: a branded page with the iframe and a link on.
    install(srv.plugins_dir(), "logout-page");
    assert!(srv.reload_plugins().await.is_empty());
    let p = logout(&srv, &reg).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("<h1>You are signed out of Acme</h1>"),
        "{}",
        p.body
    );
    assert!(p.body.contains(&format!(
        "<iframe hidden src=\"{}",
        front.url("/frontchannel?iss=")
    )));
    assert!(p.body.contains(&format!("href=\"{BYE}?state=pl\"")));
    let policy = csp(&p);
    assert!(policy.contains(&frame_src), "{policy}");
    assert!(
        !policy.contains("script-src"),
        "the page has no script: {policy}"
    );
    assert!(policy.contains("default-src 'none'"));
    uninstall(&srv, "logout-page");

    // The Python example: its inline script is allowed by its hash, and nothing else is.
    install(srv.plugins_dir(), "logout-notice");
    assert!(srv.reload_plugins().await.is_empty());
    let p = logout(&srv, &reg).await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .contains("<h1 id=\"notice\">You have been signed out of every Acme application.</h1>"),
        "{}",
        p.body
    );
    let start = p.body.find("<script>").unwrap() + "<script>".len();
    let end = p.body[start..].find("</script>").unwrap();
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &p.body.as_bytes()[start..start + end],
    );
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    let policy = csp(&p);
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}';")),
        "{policy}"
    );
    assert!(policy.contains(&frame_src), "{policy}");
    uninstall(&srv, "logout-notice");

    // A plugin that traps: fail-open shows the default page, fail-closed is a server_error.
    let faulty = wasm("faulty-end-session");
    install_as(
        srv.plugins_dir(),
        "faulty-end-session",
        "end-session",
        &faulty,
        "on_error = \"fail-open\"\n[config]\nmode = \"trap\"\n",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let p = logout(&srv, &reg).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("id=\"signed-out\""), "{}", p.body);
    assert!(p.body.contains("<iframe hidden"));
    install_as(
        srv.plugins_dir(),
        "faulty-end-session",
        "end-session",
        &faulty,
        "on_error = \"fail-closed\"\n[config]\nmode = \"trap\"\n",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let p = logout(&srv, &reg).await;
    assert_eq!(p.status, 500);
    assert_eq!(
        p.error_code().as_deref(),
        Some("server_error"),
        "{}",
        p.body
    );
    assert!(p.location.is_none());
    // The same plugin answering normally.
    install_as(
        srv.plugins_dir(),
        "faulty-end-session",
        "end-session",
        &faulty,
        "[config]\nmode = \"ok\"\n",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let p = logout(&srv, &reg).await;
    assert_eq!(p.body, "<p id=\"faulty\">1 RPs</p>");
    srv.stop().await;
}
