//! Plugin benchmark (not a test): per-call latency through the hooks facade — a fresh pooled
//! instance per call — for the Rust, C, Python and JavaScript examples, against a baseline
//! measured in the same run (the Rust example's own logic called natively), and the time from
//! writing a new version of a plugin to its first answer.
//!
//!   cargo run --release -p tessera-tests --bin plugin-bench [-- CALLS]

#![allow(clippy::unwrap_used)]

use serde_json::{Map, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::clock::{SharedClock, SystemClock};
use tessera::plugins::bindings::dynamic_scope::Target;
use tessera::plugins::bindings::types::TokenKind;
use tessera::plugins::cache::CompiledCache;
use tessera::plugins::registry::Registry;
use tessera::plugins::{Hooks, TokenDraft};
use tessera_tests::plugins::{
    built, compiled_cache, install, install_as, wasm, with_custom_section,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>, baseline_p50: Option<Duration>) -> Duration {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    let ratio = baseline_p50
        .map(|b| format!("{:>9.0}x", p50.as_secs_f64() / b.as_secs_f64()))
        .unwrap_or_else(|| "  baseline".into());
    println!(
        "{name:<44} p50 {:>9.1} µs  p99 {:>9.1} µs  {ratio}",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    p50
}

async fn time<F: std::future::Future<Output = ()>>(
    calls: usize,
    mut f: impl FnMut() -> F,
) -> Vec<Duration> {
    for _ in 0..calls.min(50) {
        f().await;
    }
    let mut out = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out
}

#[tokio::main]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(2000);
    built();
    let dir = tempfile::tempdir().unwrap();
    for p in [
        "add-tenant-claims",
        "revoke-guard",
        "org-claims",
        "introspection-tenant",
    ] {
        install(dir.path(), p);
    }
    let registry = Arc::new(Registry::new(
        dir.path(),
        Some(CompiledCache::new(
            compiled_cache(),
            tessera_tests::test_cache_key(),
        )),
    ));
    let refused = registry.reload().await;
    assert!(refused.is_empty(), "{:?}", registry.status());
    let clock: SharedClock = Arc::new(SystemClock);
    let hooks = Hooks::new(registry.clone(), clock);

    let client: tessera::model::Client = {
        let meta: tessera::model::ClientMetadata = serde_json::from_value(json!({
            "grant_types": ["client_credentials"], "scope": "read audit",
        }))
        .unwrap();
        tessera::model::Client {
            client_id: "app".into(),
            secret_hash: None,
            secret_sealed: None,
            metadata: meta,
            created_at: 0,
        }
    };
    let grant = tessera::model::Grant::for_client(
        "g".into(),
        "app".into(),
        "client_credentials",
        "read".into(),
        0,
    );
    let mut claims = Map::new();
    claims.insert("iss".into(), json!("https://op.example"));
    claims.insert("client_id".into(), json!("app"));
    println!("plugin calls through the hooks facade, {calls} calls each (fresh instance per call)");

    // Baseline: the same Rust plugin logic, called natively.
    let native_ctx = || tessera_plugin_sdk::update_token::Context {
        kind: tessera_plugin_sdk::types::TokenKind::AccessToken,
        client: tessera_plugin_sdk::types::Client {
            client_id: "app".into(),
            client_name: None,
            client_type: "confidential".into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec![],
        },
        grant: tessera_plugin_sdk::types::Grant {
            grant_id: "g".into(),
            grant_type: "client_credentials".into(),
            client_id: "app".into(),
            scopes: vec!["read".into()],
            subject: None,
        },
        claims: "{\"iss\":\"https://op.example\",\"client_id\":\"app\"}".into(),
        lifetime: 3600,
    };
    tessera_plugin_sdk::testing::set_config(&[
        ("tenant", "acme"),
        ("max_access_token_lifetime", "900"),
    ]);
    let base = time(calls, || {
        let ctx = native_ctx();
        async move {
            use tessera_plugin_sdk::update_token::Guest as _;
            std::hint::black_box(add_tenant_claims::AddTenantClaims::update_token(ctx).unwrap());
        }
    })
    .await;
    let b = report("baseline: Rust example logic, native", base, None);

    let rust = time(calls, || async {
        hooks
            .update_token(TokenDraft {
                kind: TokenKind::AccessToken,
                client: &client,
                grant: &grant,
                claims: claims.clone(),
                lifetime: 3600,
            })
            .await
            .unwrap();
    })
    .await;
    report("Rust  update-token (add-tenant-claims)", rust, Some(b));

    let token = tessera::model::TokenRecord {
        token_hash: "h".into(),
        grant_id: "g".into(),
        kind: tessera::model::TokenKind::AccessToken,
        format: "reference".into(),
        jti: None,
        client_id: "app".into(),
        subject: None,
        scope: "read audit".into(),
        audience: vec![],
        issued_at: 0,
        expires_at: 1,
        revoked_at: None,
        consumed_at: None,
        claims: None,
        jkt: None,
    };
    let c = time(calls, || async {
        hooks.revoke_token(&client, &token, &grant).await.unwrap();
    })
    .await;
    report("C     revoke-token (revoke-guard)", c, Some(b));

    let mut user = Map::new();
    user.insert("email".into(), json!("alice@example.com"));
    let granted = vec!["openid".to_string(), "org".to_string()];
    let py_calls = (calls / 4).max(50);
    let py = time(py_calls, || async {
        hooks
            .dynamic_scope(
                "org",
                &tessera::plugins::hooks::ScopeClaims {
                    sub: "s",
                    user: &user,
                    client: &client,
                    granted_scopes: &granted,
                    target: Target::IdToken,
                    authentication: None,
                },
            )
            .await
            .unwrap();
    })
    .await;
    report("Python dynamic-scope (org-claims)", py, Some(b));

    let mut resp = Map::new();
    resp.insert("active".into(), json!(true));
    resp.insert("client_id".into(), json!("app"));
    let js = time(py_calls, || async {
        hooks
            .introspection(
                &client,
                Some(tessera::plugins::Introspected {
                    token: &token,
                    grant: &grant,
                    client: &client,
                }),
                false,
                resp.clone(),
            )
            .await
            .unwrap();
    })
    .await;
    report("JS    introspection (introspection-tenant)", js, Some(b));

    // Write-to-swap: a new version of a small Rust plugin, with the watcher running.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(tessera::plugins::reload::watch(
        registry.clone(),
        Duration::from_millis(50),
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let faulty = wasm("faulty");
    let mut swaps = Vec::new();
    for g in 0..10 {
        let bytes = with_custom_section(&faulty, &format!("bench {g} {}", std::process::id()));
        let started = Instant::now();
        install_as(
            dir.path(),
            "versioned",
            "update-token",
            &bytes,
            &format!("[config]\nmode = \"ok\"\ngeneration = \"{g}\"\n"),
        );
        loop {
            let (c, _) = hooks
                .update_token(TokenDraft {
                    kind: TokenKind::AccessToken,
                    client: &client,
                    grant: &grant,
                    claims: Map::new(),
                    lifetime: 60,
                })
                .await
                .unwrap();
            if c.get("generation") == Some(&json!(g.to_string())) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        swaps.push(started.elapsed());
    }
    swaps.sort();
    println!(
        "write-to-swap (50 ms debounce + compile + checks), 10 swaps: p50 {:.0} ms, max {:.0} ms",
        percentile(&swaps, 0.5).as_secs_f64() * 1e3,
        swaps.last().unwrap().as_secs_f64() * 1e3
    );
    let _ = stop_tx.send(true);
    let _ = watcher.await;
}
