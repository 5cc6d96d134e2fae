//! The sandbox: a looping, memory-hungry, trapping or oversize plugin is stopped or contained,
//! broken files are refused with a clear error, the server keeps serving other requests the
//! whole time, and 10,000 faulting calls leave the process's memory flat. Plus hot reload under
//! load.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera::plugins::TokenDraft;
use tessera::plugins::bindings::types::TokenKind;
use tessera_tests::plugins::{install_as, wasm, with_custom_section};
use tessera_tests::{Db, TestServer, jwt_parts, rss};

/// The tests of this binary run one at a time: the flat-memory check reads the whole process's
/// RSS and hot reload times its swaps, and each disturbs the other when they overlap on a
/// loaded 2-core machine (seen in fresh-clone CI runs: +411 MiB, a swap over 1 s).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Installs the fault fixture as plugin `name` in `mode`, bound to `client`.
fn install_fault(dir: &std::path::Path, name: &str, mode: &str, client: &str, extra: &str) {
    install_as(
        dir,
        name,
        "update-token",
        &wasm("faulty"),
        &format!("{extra}\n[bindings]\nclients = [\"{client}\"]\n[config]\nmode = \"{mode}\"\n"),
    );
}

/// One update-token call for an access token of `client`.
async fn call(
    hooks: &tessera::plugins::Hooks,
    client: &tessera::model::Client,
    grant: &tessera::model::Grant,
) -> Result<(serde_json::Map<String, serde_json::Value>, i64), tessera::plugins::HookError> {
    hooks
        .update_token(TokenDraft {
            kind: TokenKind::AccessToken,
            client,
            grant,
            claims: serde_json::Map::new(),
            lifetime: 60,
        })
        .await
}

/// A client_credentials grant of `client_id`.
fn grant(client_id: &str) -> tessera::model::Grant {
    tessera::model::Grant::for_client(
        "g".into(),
        client_id.into(),
        "client_credentials",
        "a".into(),
        0,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_contained_and_the_server_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let srv = Arc::new(TestServer::start(Db::Sqlite).await);
    let dir = srv.plugins_dir().to_path_buf();
    let mut clients = Vec::new();
    for (mode, extra) in [
        ("loop", "[limits]\ntimeout_ms = 50\n"),
        ("bomb", "[limits]\nmemory_mib = 16\n"),
        ("trap", ""),
        ("err", ""),
        ("oversize", ""),
        ("protected", ""),
        ("alias", ""),
        ("loud", ""),
    ] {
        let reg = srv.cc_client("client_secret_basic", true).await;
        install_fault(&dir, mode, mode, &reg.client.client_id, extra);
        clients.push((mode, reg));
    }
    // A fail-open plugin: its failure is skipped and the token issued without its effect.
    let open = srv.cc_client("client_secret_basic", true).await;
    install_fault(
        &dir,
        "trap-open",
        "trap",
        &open.client.client_id,
        "on_error = \"fail-open\"\n",
    );
    // Files that must be refused.
    let faulty = wasm("faulty");
    install_as(
        &dir,
        "wrong-world",
        "update-token",
        b"\0asm\x0d\0\x01\0",
        "",
    );
    install_as(
        &dir,
        "not-component",
        "update-token",
        b"\0asm\x01\0\0\0",
        "",
    );
    install_as(&dir, "wrong-hook", "revoke-token", &faulty, "");
    install_as(&dir, "bad-sha", "update-token", &faulty, "");
    std::fs::write(dir.join("bad-sha.wasm"), with_custom_section(&faulty, "x")).unwrap();
    let refused = srv.reload_plugins().await;
    assert_eq!(
        refused,
        ["bad-sha", "not-component", "wrong-hook", "wrong-world"],
        "{:?}",
        srv.state.hooks().registry().status()
    );
    let status = srv.state.hooks().registry().status();
    let error_of = |n: &str| {
        status
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .last_error
            .clone()
            .unwrap()
    };
    assert!(error_of("bad-sha").starts_with("sha256 mismatch"));
    assert!(error_of("not-component").starts_with("not a component"));
    assert!(
        error_of("wrong-world").starts_with("wrong world: the component exports no Tessera hook")
    );
    assert!(
        error_of("wrong-hook")
            .contains("the manifest says hook revoke-token, the component exports update-token")
    );

    // A bystander keeps getting tokens the whole time.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let bystander = {
        let (srv, stop, served) = (srv.clone(), stop.clone(), served.clone());
        let reg = srv.cc_client("client_secret_basic", false).await;
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                srv.access_token(&reg).await;
                worst = worst.max(t.elapsed());
                served.fetch_add(1, Ordering::Relaxed);
            }
            worst
        })
    };

    for (mode, reg) in &clients {
        let started = Instant::now();
        let resp = srv
            .post_form(
                "/token",
                Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let took = started.elapsed();
        assert_eq!(
            resp.status(),
            500,
            "{mode}: fail-closed answers server_error"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        // Nothing about the plugin or its failure reaches the client.
        assert_eq!(
            body,
            serde_json::json!({"error": "server_error", "error_description": "internal server error"}),
            "{mode}"
        );
        if *mode == "loop" {
            assert!(
                took >= Duration::from_millis(45) && took < Duration::from_millis(1000),
                "loop stopped at its 50 ms deadline, took {took:?}"
            );
        }
    }
    let resp = srv.token(&open, &[]).await;
    let (_, claims) = jwt_parts(resp["access_token"].as_str().unwrap());
    assert!(
        claims.get("generation").is_none(),
        "fail-open skips the effect"
    );

    let status = srv.state.hooks().registry().status();
    for s in status.iter().filter(|s| s.state == "loaded") {
        assert_eq!((s.calls, s.errors), (1, 1), "{}: counted", s.name);
    }

    // Each failure is named clearly (in logs and in the error the facade returns).
    let hooks = srv.state.hooks().clone();
    for (mode, reg) in &clients {
        let g = grant(&reg.client.client_id);
        let e = call(&hooks, &reg.client, &g).await.unwrap_err();
        let expected = match *mode {
            "loop" => "deadline of 50 ms exceeded",
            "bomb" => "memory limit exceeded",
            "trap" => "wasm trap: wasm `unreachable` instruction executed",
            "err" => "the plugin answered err: fault fixture: err",
            // Refused before the copy, not measured after it: the host copies at most
            // max_result_bytes plus the list overhead out of a guest in one transfer.
            "oversize" | "alias" | "loud" => {
                "oversize result or host-call argument: over 1114112 bytes, refused before copying"
            }
            _ => "invalid result: the claim \"sub\" is protected",
        };
        assert_eq!((e.plugin.as_str(), e.version.as_str()), (*mode, "1.0.0"));
        assert!(e.message.starts_with(expected), "{mode}: {}", e.message);
    }

    // 10,000 faulting calls through the facade: memory stays flat.
    let trap_client = clients[2].1.client.clone();
    let oversize_client = clients[4].1.client.clone();
    let grant = grant(&trap_client.client_id);
    let pick = |i: usize| {
        if i.is_multiple_of(2) {
            &trap_client
        } else {
            &oversize_client
        }
    };
    // Warm-up with the same mix as the measured calls: the first calls of each kind touch
    // pages that stay (pooled instance slots, the oversize guest's grown memory), a one-time
    // ~16 MiB that is not growth (seen in CI when only the trap kind was warmed up).
    for i in 0..1000 {
        assert!(call(&hooks, pick(i), &grant).await.is_err());
    }
    let before = rss();
    let started = Instant::now();
    for i in 0..10_000 {
        assert!(call(&hooks, pick(i), &grant).await.is_err());
    }
    let elapsed = started.elapsed();
    let after = rss();
    let growth = after.saturating_sub(before);
    eprintln!(
        "10,000 faulting calls in {elapsed:?}; RSS {} MiB -> {} MiB",
        before >> 20,
        after >> 20
    );
    assert!(growth < 8 << 20, "memory grew by {} MiB", growth >> 20);

    stop.store(true, Ordering::Relaxed);
    let worst = bystander.await.unwrap();
    assert!(
        served.load(Ordering::Relaxed) > 10,
        "the bystander was served"
    );
    assert!(
        worst < Duration::from_secs(2),
        "bystander's slowest request: {worst:?}"
    );
    Arc::try_unwrap(srv).ok().unwrap().stop().await;
}

/// Instances are made a few at a time for small plugins (see `engine::batch_for`), but each
/// serves exactly one call: a plugin counting its calls in a static always counts 1, in a row,
/// concurrently, and after calls of the same plugin that trapped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_an_instance_no_call_used() {
    let srv = TestServer::start(Db::Sqlite).await;
    let counted = srv.cc_client("client_secret_basic", true).await.client;
    let trapping = srv.cc_client("client_secret_basic", true).await.client;
    install_fault(srv.plugins_dir(), "count", "count", &counted.client_id, "");
    assert!(srv.reload_plugins().await.is_empty());
    let g = grant(&counted.client_id);
    for _ in 0..40 {
        let (claims, _) = call(srv.state.hooks(), &counted, &g).await.unwrap();
        assert_eq!(claims["calls"], 1);
    }
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let (hooks, client, g) = (srv.state.hooks().clone(), counted.clone(), g.clone());
            tokio::spawn(async move { call(&hooks, &client, &g).await.unwrap().0 })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap()["calls"], 1);
    }
    // The same component under another name, trapping on every call: its failures leave the
    // counting plugin's instances as they were.
    install_fault(
        srv.plugins_dir(),
        "trapper",
        "trap",
        &trapping.client_id,
        "",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let t = grant(&trapping.client_id);
    for _ in 0..10 {
        assert!(call(srv.state.hooks(), &trapping, &t).await.is_err());
        let (claims, _) = call(srv.state.hooks(), &counted, &g).await.unwrap();
        assert_eq!(claims["calls"], 1);
    }
    srv.stop().await;
}

#[tokio::test]
async fn wasi_grants_nothing() {
    let srv = TestServer::start(Db::Sqlite).await;
    let reg = srv.cc_client("client_secret_basic", true).await;
    install_fault(
        srv.plugins_dir(),
        "snoop",
        "snoop",
        &reg.client.client_id,
        "",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let resp = srv.token(&reg, &[]).await;
    let (_, claims) = jwt_parts(resp["access_token"].as_str().unwrap());
    assert_eq!(claims["env"], 0, "no environment");
    assert_eq!(claims["args"], 0, "no arguments");
    assert_eq!(claims["root"], "denied", "no preopened directories");
    assert_eq!(claims["passwd"], "denied");
    assert_eq!(claims["net"], "denied", "no network");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_under_load() {
    let _serial = SERIAL.lock().await;
    let srv = TestServer::start_with(Db::Sqlite, |s| s.plugins.debounce_ms = 50).await;
    let dir = srv.plugins_dir().to_path_buf();
    let base = wasm("faulty");
    let version = |g: u32| {
        (
            with_custom_section(&base, &format!("generation {g}")),
            format!("[config]\nmode = \"ok\"\ngeneration = \"{g}\"\n"),
        )
    };
    let (w, m) = version(1);
    install_as(&dir, "versioned", "update-token", &w, &m);
    srv.reload_plugins().await;
    let client = srv.cc_client("client_secret_basic", true).await.client;
    let grant = grant(&client.client_id);
    let hooks = srv.state.hooks().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let latest = Arc::new(AtomicU64::new(1));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (hooks, client, grant, stop, latest) = (
            hooks.clone(),
            client.clone(),
            grant.clone(),
            stop.clone(),
            latest.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut seen: Vec<u64> = Vec::new();
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (claims, _) = call(&hooks, &client, &grant)
                    .await
                    .unwrap_or_else(|e| panic!("no call fails during reloads: {e:?}"));
                calls += 1;
                assert_eq!(claims.len(), 1, "one version's answer: {claims:?}");
                let g: u64 = claims["generation"].as_str().unwrap().parse().unwrap();
                if seen.last() != Some(&g) {
                    seen.push(g);
                    latest.fetch_max(g, Ordering::Relaxed);
                }
                tokio::task::yield_now().await;
            }
            (calls, seen)
        }));
    }
    let mut swap_times = Vec::new();
    for g in 2..=4u32 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (w, m) = version(g);
        let written = Instant::now();
        install_as(&dir, "versioned", "update-token", &w, &m);
        // Each version is new to the compiled cache, so this includes a compile: ~0.4 s in this
        // debug build on an idle 2-core machine (`plugin-bench` prints the release figure);
        // 2 s leaves room for a loaded CI machine.
        while latest.load(Ordering::Relaxed) < u64::from(g) {
            assert!(
                written.elapsed() < Duration::from_secs(2),
                "generation {g} not answering within 2 s of the write"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        swap_times.push(written.elapsed());
    }
    // A broken replacement (not a component, manifest hash matching it) is refused; version 4
    // keeps answering.
    let broken = b"\0asm\x01\0\0\0".to_vec();
    install_as(
        &dir,
        "versioned",
        "update-token",
        &broken,
        "[config]\nmode = \"ok\"\ngeneration = \"5\"\n",
    );
    let registry = hooks.registry().clone();
    let waited = Instant::now();
    loop {
        let s = registry.status();
        if s[0].last_error.is_some() {
            assert!(
                s[0].last_error
                    .as_deref()
                    .unwrap()
                    .starts_with("not a component")
            );
            assert_eq!(s[0].state, "loaded");
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(2),
            "broken version not refused"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in tasks {
        let (calls, seen) = t.await.unwrap();
        total += calls;
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "versions only move forward: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&4), "{seen:?}");
    }
    eprintln!("hot reload: {total} calls, 0 failed; write-to-answer times {swap_times:?}");

    // Removing the files unloads the plugin.
    std::fs::remove_file(dir.join("versioned.wasm")).unwrap();
    std::fs::remove_file(dir.join("versioned.toml")).unwrap();
    let removed = Instant::now();
    loop {
        let (claims, _) = call(&hooks, &client, &grant).await.unwrap();
        if claims.is_empty() {
            break;
        }
        assert!(
            removed.elapsed() < Duration::from_secs(1),
            "still loaded after removal"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The two removals may land in different reloads (the wasm's first, which unloads the
    // plugin and reports its manifest as incomplete); the status empties once both are seen.
    while !registry.status().is_empty() {
        assert!(
            removed.elapsed() < Duration::from_secs(1),
            "status still lists the removed plugin: {:?}",
            registry.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    srv.stop().await;
}
