//! Janssen's stat endpoint (flag STAT) on SQLite and PostgreSQL: monthly active users and tokens
//! issued per client, grant type and kind from real traffic, merged with a second replica's
//! counts on the same database (a user active on both counted once), the three formats (the
//! OpenMetrics one read by the Prometheus project's parser), the month parameters and their
//! errors, the scope, and the flag.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::server::AppState;
use tessera::stats::month_of;
use tessera_tests::browser::{Browser, tokens_for};
use tessera_tests::{Db, TestServer, e2e, on_both_backends};

async fn stat(srv: &TestServer, token: &str, query: &str) -> reqwest::Response {
    srv.http
        .get(srv.url(&format!("/stat?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn stats_count_traffic_across_replicas(db: Db) {
    let srv = TestServer::start(db).await;
    let alice = srv.user("alice", json!({})).await;
    let bob = srv.user("bob", json!({})).await;
    let reader = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "jans_stat other"}))
        .await;
    let token = srv.token(&reader, &[("scope", "jans_stat")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let weak = srv.token(&reader, &[("scope", "other")]).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let month = month_of(srv.state.now());

    // No token, or one without jans_stat.
    let resp = srv
        .http
        .get(srv.url(&format!("/stat?month={month}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        stat(&srv, &weak, &format!("month={month}")).await.status(),
        403
    );

    // Traffic: two client_credentials tokens, alice signs in (code) and refreshes.
    let cc = srv.cc_client("client_secret_basic", false).await;
    srv.access_token(&cc).await;
    srv.access_token(&cc).await;
    let web = srv.web_client(json!({})).await;
    let tokens = tokens_for(&srv, &web, &mut Browser::new(&srv.base), &[]).await;
    let resp = srv
        .post_form(
            "/token",
            Some((&web.client.client_id, web.secret.as_deref().unwrap())),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(resp.status(), 200);

    let resp = stat(&srv, &token, &format!("month={month}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    let m = &body["response"][&month];
    assert_eq!(m["monthly_active_users"], 1);
    let cc_id = cc.client.client_id.as_str();
    let web_id = web.client.client_id.as_str();
    assert_eq!(
        m["token_count_per_client"][cc_id]["client_credentials"]["access_token"],
        2
    );
    for kind in ["access_token", "refresh_token", "id_token"] {
        assert_eq!(
            m["token_count_per_client"][web_id]["authorization_code"][kind], 1,
            "{kind}"
        );
        assert_eq!(
            m["token_count_per_client"][web_id]["refresh_token"][kind], 1,
            "{kind}"
        );
    }
    // Per grant type, over every client: the reader's two tokens and cc's two.
    assert_eq!(
        m["token_count_per_granttype"]["client_credentials"]["access_token"],
        4
    );

    // A second replica on the same database: alice (again) and bob active there, three more
    // tokens for cc. Its counts are stored when it flushes; the first replica merges them.
    let clock: tessera::clock::SharedClock = srv.clock.clone();
    let replica = AppState::new(srv.settings.clone(), clock).await.unwrap();
    let now = srv.state.now();
    replica.stats().user_active(now, &alice.user_id);
    replica.stats().user_active(now, &bob.user_id);
    for _ in 0..3 {
        replica
            .stats()
            .token_issued(now, cc_id, "client_credentials", "access_token");
    }
    replica.flush_stats().await.unwrap();
    let body: Value = stat(&srv, &token, &format!("month={month}"))
        .await
        .json()
        .await
        .unwrap();
    let m = &body["response"][&month];
    assert_eq!(m["monthly_active_users"], 2);
    assert_eq!(
        m["token_count_per_client"][cc_id]["client_credentials"]["access_token"],
        5
    );

    // jsonmonth: a list; openmetrics: parsed by prometheus-client's parser.
    let list: Value = stat(&srv, &token, &format!("month={month}&format=jsonmonth"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["month"], month.as_str());
    assert_eq!(list[0]["monthly_active_users"], 2);
    let resp = stat(&srv, &token, &format!("month={month}&format=openmetrics")).await;
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let samples =
        e2e::parse_openmetrics(env!("CARGO_TARGET_TMPDIR"), &resp.text().await.unwrap()).await;
    let find = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
    };
    assert_eq!(
        find("tessera_stat_monthly_active_users", &[("month", &month)]),
        Some(2.0)
    );
    assert_eq!(
        find(
            "tessera_stat_tokens_issued",
            &[
                ("month", &month),
                ("client_id", cc_id),
                ("grant_type", "client_credentials")
            ]
        ),
        Some(5.0)
    );

    // A range: the month before has nothing.
    let (y, mo) = tessera::stats::parse_month(&month).unwrap();
    let before = if mo == 1 {
        format!("{}12", y - 1)
    } else {
        format!("{y}{:02}", mo - 1)
    };
    let body: Value = stat(
        &srv,
        &token,
        &format!("start-month={before}&end-month={month}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(body["response"][&before]["monthly_active_users"], 0);
    assert_eq!(body["response"][&month]["monthly_active_users"], 2);
    replica.store().close().await;
    srv.stop().await;
}

on_both_backends!(stats_count_traffic_across_replicas);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_and_the_flag() {
    let srv = TestServer::start(Db::Sqlite).await;
    let reader = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "jans_stat"}))
        .await;
    let token = srv.access_token(&reader).await;
    for query in [
        "",
        "month=2026-12",
        "month=202613",
        "month=202612&start-month=202601&end-month=202612",
        "start-month=202601",
        "start-month=202001&end-month=202612",
        "month=202612&format=xml",
    ] {
        let resp = stat(&srv, &token, query).await;
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_request",
            "{query}"
        );
    }
    // Several months in one parameter (Janssen separates them with spaces).
    let body: Value = stat(&srv, &token, "month=202611%20202612")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["response"].as_object().unwrap().len(), 2);
    srv.state
        .set_feature(tessera::config::FeatureFlag::Stat, false);
    let resp = stat(&srv, &token, "month=202612").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "feature_disabled"
    );
    srv.stop().await;
}
