//! `/metrics` (flag METRIC): the exposition parsed by the Prometheus project's own OpenMetrics
//! parser (PyPI `prometheus-client`, `tests/e2e/parse_metrics.py`), its counters moving with
//! real traffic (tokens, logins, HTTP requests, a plugin's calls), the scope it needs on the API
//! listener, the separate listener that needs none, and the flag.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera_tests::browser::{Browser, authorize_url, pkce};
use tessera_tests::{Db, TestServer, e2e};

async fn parse(text: &str) -> Vec<Value> {
    e2e::parse_openmetrics(env!("CARGO_TARGET_TMPDIR"), text).await
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

async fn scrape(srv: &TestServer, token: &str) -> Vec<Value> {
    let resp = srv
        .http
        .get(srv.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    parse(&resp.text().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_traffic_and_the_endpoint_needs_its_scope() {
    let srv = TestServer::start(Db::Sqlite).await;
    srv.user("alice", json!({})).await;
    tessera_tests::plugins::install(srv.plugins_dir(), "add-tenant-claims");
    assert!(srv.reload_plugins().await.is_empty());
    let monitor = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "tessera.admin.metrics.read other"}))
        .await;
    let token = srv
        .token(&monitor, &[("scope", "tessera.admin.metrics.read")])
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let weak = srv.token(&monitor, &[("scope", "other")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // No token: 401; a token without the scope: 403.
    let resp = srv.http.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = srv
        .http
        .get(srv.url("/metrics"))
        .bearer_auth(&weak)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let before = scrape(&srv, &token).await;
    let cc = srv.cc_client("client_secret_basic", true).await;
    for _ in 0..3 {
        srv.access_token(&cc).await;
    }
    // One failed and one successful login, then the code flow's tokens.
    let web = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();
    let page = b.open(&authorize_url(&web, &challenge, &[])).await;
    let page = b.login(&page, "alice", "wrong-password").await;
    let page = b.login(&page, "alice", "password123").await;
    let page = b.consent(&page, "allow").await;
    let params = tessera_tests::browser::response_params(page.location.as_deref().unwrap());
    let resp = tessera_tests::browser::exchange(&srv, &web, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    let after = scrape(&srv, &token).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let cc_jwt = [
        ("grant_type", "client_credentials"),
        ("kind", "access_token"),
        ("format", "jwt"),
    ];
    assert_eq!(delta("tessera_tokens_issued_total", &cc_jwt), 3.0);
    for kind in ["access_token", "refresh_token", "id_token"] {
        let labels = [("grant_type", "authorization_code"), ("kind", kind)];
        assert_eq!(delta("tessera_tokens_issued_total", &labels), 1.0, "{kind}");
    }
    assert_eq!(delta("tessera_logins_total", &[("result", "failure")]), 1.0);
    assert_eq!(delta("tessera_logins_total", &[("result", "success")]), 1.0);
    let token_200 = [
        ("endpoint", "/token"),
        ("method", "POST"),
        ("status", "200"),
    ];
    assert_eq!(delta("tessera_http_requests_total", &token_200), 4.0);
    assert_eq!(
        delta(
            "tessera_http_request_duration_seconds_count",
            &[("endpoint", "/token"), ("status", "200")]
        ),
        4.0
    );
    // The route pattern, never the raw path.
    assert!(after.iter().all(|s| {
        s["labels"]["endpoint"]
            .as_str()
            .is_none_or(|e| !e.contains('?'))
    }));
    let plugin = [("plugin", "add-tenant-claims"), ("hook", "update-token")];
    // Three client_credentials access tokens, and the code flow's access and ID tokens.
    assert_eq!(delta("tessera_plugin_calls_total", &plugin), 5.0);
    assert_eq!(delta("tessera_plugin_errors_total", &plugin), 0.0);
    assert_eq!(
        delta("tessera_plugin_call_duration_seconds_count", &plugin),
        5.0
    );
    assert_eq!(value(&after, "tessera_active_sessions", &[]), 1.0);
    assert!(value(&after, "tessera_db_connections", &[("state", "idle")]) >= 0.0);
    assert!(
        after
            .iter()
            .any(|s| s["name"] == "tessera_db_connections" && s["labels"]["state"] == "in_use")
    );

    srv.state
        .set_feature(tessera::config::FeatureFlag::Metric, false);
    let resp = srv
        .http
        .get(srv.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "feature_disabled"
    );
    srv.stop().await;
}

/// With `[metrics] listen`, the exposition is served there without a token, and not on the
/// API listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_listener_serves_metrics_without_a_token() {
    let srv = TestServer::start_with(Db::Sqlite, |s| s.metrics.listen = "127.0.0.1:0".into()).await;
    let cc = srv.cc_client("client_secret_basic", false).await;
    srv.access_token(&cc).await;
    let addr = srv
        .state
        .metrics_addr()
        .await
        .expect("the metrics listener is bound");
    let resp = srv
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let samples = parse(&resp.text().await.unwrap()).await;
    let labels = [
        ("grant_type", "client_credentials"),
        ("kind", "access_token"),
        ("format", "reference"),
    ];
    assert_eq!(value(&samples, "tessera_tokens_issued_total", &labels), 1.0);
    assert_eq!(
        srv.http
            .get(srv.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    srv.stop().await;
}
