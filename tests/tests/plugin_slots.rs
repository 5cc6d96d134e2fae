//! Waiting for a free instance slot counts against a call's deadline: with every pooled
//! instance busy, a call fails (per its plugin's `on_error`) once its own deadline passes
//! instead of queueing behind the busy ones. Its own test binary: holding all 512 slots keeps
//! ~1 MiB resident per slot, which would disturb the memory checks of other tests.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tessera::plugins::engine::free_slots;
use tessera_tests::plugins::{install_as, update_token_call as call, wasm};
use tessera_tests::{Db, TestServer};

fn install_loop(srv: &TestServer, name: &str, client: &str, timeout_ms: u64) {
    install_as(
        srv.plugins_dir(),
        name,
        "update-token",
        &wasm("faulty"),
        &format!(
            "[limits]\ntimeout_ms = {timeout_ms}\n[bindings]\nclients = [\"{client}\"]\n[config]\nmode = \"loop\"\n"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_instance_slot_counts_against_the_deadline() {
    let srv = TestServer::start(Db::Sqlite).await;
    let slow = srv.cc_client("client_secret_basic", true).await;
    let quick = srv.cc_client("client_secret_basic", true).await;
    install_loop(&srv, "slow", &slow.client.client_id, 3000);
    install_loop(&srv, "quick", &quick.client.client_id, 100);
    assert!(srv.reload_plugins().await.is_empty());
    // Occupy every slot with 3-second calls.
    let holders: Vec<_> = (0..free_slots())
        .map(|_| {
            let hooks = srv.state.hooks().clone();
            let client = slow.client.clone();
            tokio::spawn(async move { call(&hooks, &client).await })
        })
        .collect();
    let waited_for_holders = Instant::now();
    while free_slots() > 0 {
        assert!(waited_for_holders.elapsed() < Duration::from_secs(10));
        tokio::task::yield_now().await;
    }
    // A 100 ms call now fails after about 100 ms, long before any slot frees up.
    let started = Instant::now();
    let e = call(srv.state.hooks(), &quick.client).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        e.message,
        "deadline of 100 ms exceeded waiting for a free instance slot"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    println!("with every slot busy, a 100 ms call failed after {took:?}");
    for h in holders {
        assert!(h.await.unwrap().is_err(), "the looping holders time out");
    }
    srv.stop().await;
}
