//! `azp` and `cnf` are protected claims: an update-token plugin that sets either is a plugin
//! error. Its own test binary, so that its plugin calls do not share the instance pool (and the
//! process's memory) with the flat-memory checks of `plugin_faults`.

#![allow(clippy::unwrap_used)]

use tessera_tests::plugins::{install_as, update_token_call as call, wasm};
use tessera_tests::{Db, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azp_and_cnf_are_protected_claims() {
    let srv = TestServer::start(Db::Sqlite).await;
    let dir = srv.plugins_dir().to_path_buf();
    let mut clients = Vec::new();
    for claim in ["azp", "cnf"] {
        let reg = srv.cc_client("client_secret_basic", true).await;
        install_as(
            &dir,
            &format!("set-{claim}"),
            "update-token",
            &wasm("faulty"),
            &format!(
                "[bindings]\nclients = [\"{}\"]\n[config]\nmode = \"protected\"\nclaims = '{{\"{claim}\":\"x\"}}'\n",
                reg.client.client_id
            ),
        );
        clients.push((claim, reg));
    }
    assert!(srv.reload_plugins().await.is_empty());
    for (claim, reg) in &clients {
        let r = srv
            .post_form(
                "/token",
                Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status(), 500, "{claim}");
        let e = call(srv.state.hooks(), &reg.client).await.unwrap_err();
        assert_eq!(
            e.message,
            format!("invalid result: the claim \"{claim}\" is protected")
        );
    }
    srv.stop().await;
}
