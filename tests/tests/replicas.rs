//! Several `tessera serve` replicas on one PostgreSQL database behave as one server (issue 13,
//! item 4): one set of signing keys however they start, keys published everywhere before any
//! replica signs with them, tokens issued by one introspected and revoked by another with no
//! replica answering from a stale cache, one success for a refresh token or code presented
//! to two replicas at once, and a client or scope change made anywhere (another replica, the
//! offline CLI on the same SQLite file) reaching every server's client and scope cache within a
//! second, and so does a change of the run-time configuration (issue 14).

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tessera::crypto::{SigningAlg, keys};
use tessera::oauth::registration::Registered;
use tessera::store::{ScopeRow, Store};
use tessera_tests::Db;
use tessera_tests::browser::{Browser, authorize_url, exchange, pkce, sign_in, tokens_for};
use tessera_tests::{TestServer, jwt_parts};

/// Stops replicas in order (the first owns the database, so it goes last).
async fn stop_all(mut servers: Vec<TestServer>) {
    while let Some(s) = servers.pop() {
        s.stop().await;
    }
}

#[tokio::test]
async fn replicas_started_together_share_one_key_per_algorithm() {
    // The race is between "no key yet" and "insert one": each round starts three replicas on an
    // empty database at the same moment.
    for round in 0..4 {
        let servers = TestServer::replicas(3).await;
        let rows = servers[0].state.store().list_signing_keys().await.unwrap();
        let active: Vec<_> = rows.iter().filter(|r| r.status == "active").collect();
        assert_eq!(
            active.len(),
            3,
            "round {round}: one active key per algorithm, not one per replica: {:?}",
            rows.iter().map(|r| (&r.alg, &r.status)).collect::<Vec<_>>()
        );
        let first = servers[0].state.keys().load();
        for s in &servers[1..] {
            let set = s.state.keys().load();
            assert_eq!(
                set.jwks, first.jwks,
                "round {round}: every replica publishes the same keys"
            );
            assert_eq!(set.signing_kids(), first.signing_kids());
        }
        // And served: /jwks of each replica lists the same three keys.
        let mut kids = HashSet::new();
        for s in &servers {
            let jwks = s.get_json("/jwks").await;
            assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
            for k in jwks["keys"].as_array().unwrap() {
                kids.insert(k["kid"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(kids.len(), 3);
        stop_all(servers).await;
    }
}

/// Whether `jwt` verifies against the JWKS `server` publishes.
async fn verifies_at(server: &TestServer, jwt: &str) -> bool {
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(server.get_json("/jwks").await).unwrap();
    let (h, _) = jwt_parts(jwt);
    let Some(jwk) = set.find(h["kid"].as_str().unwrap()) else {
        return false;
    };
    let mut v = jsonwebtoken::Validation::new(h["alg"].as_str().unwrap().parse().unwrap());
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
        .is_ok()
}

#[tokio::test]
async fn a_rotation_is_published_by_every_replica_before_any_signs_with_it() {
    let servers = TestServer::replicas(2).await;
    let (a, b) = (&servers[0], &servers[1]);
    let c = a.cc_client("client_secret_basic", true).await;
    let before = jwt_parts(&a.access_token(&c).await).0["kid"].clone();

    // A rotates and reloads at once; B has not polled yet.
    let algs: Vec<SigningAlg> = a.state.keys().load().algorithms();
    let new_kids = keys::rotate(
        a.state.store(),
        a.state.master_key(),
        &algs,
        keys::Rotation::of(&a.settings.keys),
        a.state.now(),
    )
    .await
    .unwrap();
    assert!(
        a.state
            .keys()
            .refresh(a.state.store(), a.state.now())
            .await
            .unwrap()
    );
    let token = a.access_token(&c).await;
    assert_eq!(
        jwt_parts(&token).0["kid"],
        before,
        "A keeps signing with the published key"
    );
    assert!(
        verifies_at(b, &token).await,
        "B (not reloaded) verifies what A signs"
    );
    assert_eq!(
        a.get_json("/jwks").await["keys"].as_array().unwrap().len(),
        6
    );

    // B's poll picks the new keys up: published, not yet signing.
    assert!(
        b.state
            .keys()
            .refresh(b.state.store(), b.state.now())
            .await
            .unwrap()
    );
    let b_jwks = b.get_json("/jwks").await.to_string();
    assert!(new_kids.iter().all(|k| b_jwks.contains(k.as_str())));
    assert_eq!(jwt_parts(&b.access_token(&c).await).0["kid"], before);

    // After publish_ahead both sign with the new key, and each verifies the other's tokens.
    a.clock.advance(a.settings.keys.publish_ahead + 1);
    for s in [a, b] {
        assert!(
            s.state
                .keys()
                .refresh(s.state.store(), s.state.now())
                .await
                .unwrap()
        );
    }
    let from_a = a.access_token(&c).await;
    let from_b = b.access_token(&c).await;
    let kid = jwt_parts(&from_a).0["kid"].as_str().unwrap().to_string();
    assert!(new_kids.contains(&kid), "{kid} is one of {new_kids:?}");
    assert_eq!(jwt_parts(&from_b).0["kid"], jwt_parts(&from_a).0["kid"]);
    assert!(verifies_at(b, &from_a).await && verifies_at(a, &from_b).await);
    assert!(
        verifies_at(b, &token).await,
        "the old key is still published"
    );

    // Two rotations at once on two replicas: one wins, the other is refused, one active key
    // per algorithm remains.
    let now = a.state.now();
    let (ra, rb) = tokio::join!(
        keys::rotate(
            a.state.store(),
            a.state.master_key(),
            &algs,
            keys::Rotation::of(&a.settings.keys),
            now
        ),
        keys::rotate(
            b.state.store(),
            b.state.master_key(),
            &algs,
            keys::Rotation::of(&b.settings.keys),
            now
        ),
    );
    assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
    let active = a
        .state
        .store()
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.status == "active")
        .count();
    assert_eq!(active, algs.len());
    stop_all(servers).await;
}

#[tokio::test]
async fn tokens_are_introspected_and_revoked_across_replicas() {
    let servers = TestServer::replicas(2).await;
    let (a, b) = (&servers[0], &servers[1]);
    for jwt in [false, true] {
        let c = a.cc_client("client_secret_basic", jwt).await;
        let token = a.access_token(&c).await;
        assert_eq!(b.introspect(&c, &token).await["active"], true, "jwt={jwt}");
        // Both replicas have answered "active" (anything they might cache is warm) before B
        // revokes it.
        assert_eq!(a.introspect(&c, &token).await["active"], true);
        let resp = b
            .post_form(
                "/revoke",
                Some((&c.client.client_id, c.secret.as_deref().unwrap())),
                &[("token", &token)],
            )
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            a.introspect(&c, &token).await,
            json!({"active": false}),
            "jwt={jwt}: A sees B's revocation at once"
        );
    }

    // A user's tokens: issued on A, userinfo on B, revoked on A, refused by B at once.
    a.user("alice", json!({})).await;
    let web = a.web_client(json!({})).await;
    let tokens = tokens_for(a, &web, &mut Browser::new(&a.base), &[]).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(b.userinfo(at).await.status(), 200);
    let resp = a
        .post_form(
            "/revoke",
            Some((&web.client.client_id, web.secret.as_deref().unwrap())),
            &[("token", tokens["refresh_token"].as_str().unwrap())],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        b.userinfo(at).await.status(),
        401,
        "revoking the refresh token revoked the grant"
    );
    stop_all(servers).await;
}

#[tokio::test]
async fn one_code_or_refresh_token_at_two_replicas_succeeds_once() {
    let servers = TestServer::replicas(2).await;
    let (a, b) = (&servers[0], &servers[1]);
    a.user("alice", json!({})).await;
    let web = a.web_client(json!({})).await;
    for round in 0..5 {
        // One authorization code, exchanged at both replicas at once.
        let mut browser = Browser::new(&a.base);
        let (verifier, challenge) = pkce();
        let params = sign_in(&mut browser, &authorize_url(&web, &challenge, &[]), "alice").await;
        let code = &params["code"];
        let (ra, rb) = tokio::join!(
            exchange(a, &web, code, &verifier),
            exchange(b, &web, code, &verifier)
        );
        let statuses = [ra.status().as_u16(), rb.status().as_u16()];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: code exchanged once, got {statuses:?}"
        );
        // RFC 6749 §4.1.2: the second use revokes what the first one issued.
        let winner: Value = if statuses[0] == 200 {
            ra.json().await.unwrap()
        } else {
            rb.json().await.unwrap()
        };
        let at = winner["access_token"].as_str().unwrap();
        assert_eq!(a.userinfo(at).await.status(), 401, "round {round}");

        // A refresh token of an ordinary sign-in, presented at both at once.
        let tokens = tokens_for(a, &web, &mut Browser::new(&a.base), &[]).await;
        let basic = Some((
            web.client.client_id.as_str(),
            web.secret.as_deref().unwrap(),
        ));
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ];
        let (ra, rb) = tokio::join!(
            a.post_form("/token", basic, &form),
            b.post_form("/token", basic, &form)
        );
        let statuses = [ra.status().as_u16(), rb.status().as_u16()];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: refresh token used once, got {statuses:?}"
        );
        let loser = if statuses[0] == 200 { rb } else { ra };
        assert_eq!(
            tessera_tests::oauth_error(loser, 400).await,
            "invalid_grant"
        );
    }
    stop_all(servers).await;
}

/// The status of a client_credentials request of `c` at `server`.
async fn cc_status(server: &TestServer, c: &Registered) -> u16 {
    server
        .post_form(
            "/token",
            Some((&c.client.client_id, c.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")],
        )
        .await
        .status()
        .as_u16()
}

/// Whether `server`'s discovery document lists `scope`.
async fn lists_scope(server: &TestServer, scope: &str) -> bool {
    server.get_json("/.well-known/openid-configuration").await["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == scope)
}

/// Polls `$check` (an expression awaited each time) until it holds; fails after one second.
/// Evaluates to how long it took.
macro_rules! within_a_second {
    ($what:literal, $check:expr) => {{
        let t0 = Instant::now();
        while !$check {
            assert!(
                t0.elapsed() < Duration::from_secs(1),
                "{} not seen within a second",
                $what
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        t0.elapsed()
    }};
}

/// A client change and a new scope written through `writer` (another replica's or another
/// process's store) reach `server`, which has both cached, within a second. Returns how long
/// each took.
async fn changes_reach(server: &TestServer, writer: &Store, c: &Registered) -> [Duration; 2] {
    // The server has the client and the scope list cached: it has just used both.
    assert_eq!(cc_status(server, c).await, 200);
    assert!(!lists_scope(server, "reports.read").await);

    let mut m = c.client.metadata.clone();
    m.grant_types.retain(|g| g != "client_credentials");
    let now = server.state.now();
    assert!(
        writer
            .update_client_metadata(&c.client.client_id, &m, now)
            .await
            .unwrap()
    );
    let client = within_a_second!("the client change", cc_status(server, c).await == 400);
    writer
        .insert_scope(&ScopeRow::new("reports.read", "oauth"), now)
        .await
        .unwrap();
    let scope = within_a_second!("the new scope", lists_scope(server, "reports.read").await);
    [client, scope]
}

#[tokio::test]
async fn client_and_scope_changes_reach_every_replica_within_a_second() {
    let servers = TestServer::replicas(2).await;
    let (a, b) = (&servers[0], &servers[1]);
    let c = a.cc_client("client_secret_basic", false).await;
    assert_eq!(cc_status(a, &c).await, 200);
    let took = changes_reach(b, a.state.store(), &c).await;
    // The writer's own cache is cleared by its write, not by the notification.
    assert_eq!(cc_status(a, &c).await, 400);
    eprintln!("PostgreSQL, another replica's change seen after {took:?} (LISTEN/NOTIFY)");
    stop_all(servers).await;
}

#[tokio::test]
async fn client_and_scope_changes_by_another_process_reach_a_sqlite_server_within_a_second() {
    let srv = TestServer::start(Db::Sqlite).await;
    let c = srv.cc_client("client_secret_basic", false).await;
    // What `tessera client ...` does while the server runs: its own pool on the same file.
    let cli = Store::connect(&srv.settings.database_url.0, 1)
        .await
        .unwrap();
    let took = changes_reach(&srv, &cli, &c).await;
    eprintln!("SQLite, another process's change seen after {took:?} (polled)");
    cli.close().await;
    srv.stop().await;
}

/// Whether `server`'s discovery document lists the introspection endpoint.
async fn offers_introspection(server: &TestServer) -> bool {
    server.get_json("/.well-known/openid-configuration").await["introspection_endpoint"].is_string()
}

/// The `expires_in` of a client-credentials token from `server`.
async fn lifetime(server: &TestServer, c: &Registered) -> i64 {
    server.token(c, &[]).await["expires_in"].as_i64().unwrap()
}

#[tokio::test]
async fn a_configuration_change_reaches_every_replica_within_a_second() {
    let servers = TestServer::replicas(2).await;
    let (a, b) = (&servers[0], &servers[1]);
    let c = a.cc_client("client_secret_basic", false).await;
    assert!(offers_introspection(b).await);
    assert_eq!(lifetime(b, &c).await, 3600);
    // What the admin API does on replica a.
    let view = tessera::admin::config::patch(
        &a.state,
        json!([
            {"op": "replace", "path": "/features/introspection", "value": false},
            {"op": "replace", "path": "/tokens/access_token_lifetime", "value": 900},
        ]),
        "*",
        "test",
        a.state.now(),
    )
    .await
    .unwrap();
    assert_eq!(view.revision, 1);
    // In force on a at once, on b within a second.
    assert!(!offers_introspection(a).await);
    let took = within_a_second!("the flag", !offers_introspection(b).await);
    assert_eq!(lifetime(b, &c).await, 900);
    let token = b.access_token(&c).await;
    let resp = b
        .post_form(
            "/introspect",
            Some((&c.client.client_id, c.secret.as_deref().unwrap())),
            &[("token", &token)],
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(b.state.config_revision(), 1);
    eprintln!("PostgreSQL, another replica's configuration change seen after {took:?}");
    stop_all(servers).await;
}

#[tokio::test]
async fn a_configuration_change_by_another_process_reaches_a_sqlite_server_within_a_second() {
    let srv = TestServer::start(Db::Sqlite).await;
    let c = srv.cc_client("client_secret_basic", false).await;
    assert_eq!(lifetime(&srv, &c).await, 3600);
    let other = Store::connect(&srv.settings.database_url.0, 1)
        .await
        .unwrap();
    assert!(
        other
            .set_server_config(
                &json!({"tokens": {"access_token_lifetime": 900}}),
                0,
                srv.state.now(),
                "test"
            )
            .await
            .unwrap()
    );
    let took = within_a_second!("the lifetime", lifetime(&srv, &c).await == 900);
    eprintln!("SQLite, another process's configuration change seen after {took:?} (polled)");
    other.close().await;
    srv.stop().await;
}

#[tokio::test]
async fn a_plugin_deployed_on_one_replica_serves_on_every_replica_within_a_second() {
    // Replicas on one machine would share the plugin directory; give b its own, as on another
    // machine, so that it must write the stored plugin itself.
    let a = TestServer::start(Db::Postgres).await;
    let mut settings = a.settings.clone();
    let b_dir = tempfile::tempdir().unwrap();
    settings.plugins_dir = b_dir.path().join("plugins");
    settings.data_dir = b_dir.path().to_path_buf();
    let b = a.replica_with(settings).await;
    let client = a.cc_client("client_secret_basic", true).await;
    let tenant = |jwt: String| tessera_tests::jwt_parts(&jwt).1.get("tenant").cloned();
    assert_eq!(tenant(b.access_token(&client).await), None);

    let name = "add-tenant-claims";
    let wasm = tessera_tests::plugins::wasm(name);
    let manifest =
        std::fs::read_to_string(tessera_tests::plugins::built().join(format!("{name}.toml")))
            .unwrap();
    let upload = tessera::admin::plugins::Upload {
        name: name.into(),
        manifest,
        sha256: tessera_tests::plugins::sha256_hex(&wasm),
        wasm,
    };
    tessera::admin::plugins::deploy(
        a.state.store(),
        a.state.hooks().registry(),
        upload,
        "test",
        a.state.now(),
    )
    .await
    .unwrap();
    let took = within_a_second!(
        "the plugin",
        tenant(b.access_token(&client).await) == Some(json!("acme"))
    );
    eprintln!("PostgreSQL, a plugin deployed on another replica serves after {took:?}");

    // A canary deployed on a runs in shadow on b too; promoted on a, it serves on b.
    let wasm = tessera_tests::plugins::wasm(name);
    let canary = tessera::admin::plugins::Upload {
        name: name.into(),
        manifest: std::fs::read_to_string(
            tessera_tests::plugins::built().join(format!("{name}.toml")),
        )
        .unwrap()
        .replace("tenant = \"acme\"", "tenant = \"globex\""),
        sha256: tessera_tests::plugins::sha256_hex(&wasm),
        wasm,
    };
    let sha = canary.sha256.clone();
    tessera::admin::plugins::deploy_canary(
        a.state.store(),
        a.state.hooks().registry(),
        canary,
        100,
        "test",
        a.state.now(),
    )
    .await
    .unwrap();
    let took = within_a_second!(
        "the canary",
        b.state.hooks().registry().canary(name).is_some()
    );
    eprintln!("PostgreSQL, a canary deployed on another replica runs after {took:?}");
    assert_eq!(tenant(b.access_token(&client).await), Some(json!("acme")));
    tessera::admin::plugins::promote_canary(a.state.store(), name, &sha, "test", a.state.now())
        .await
        .unwrap();
    let _ = within_a_second!(
        "the promotion",
        tenant(b.access_token(&client).await) == Some(json!("globex"))
    );
    let _ = within_a_second!(
        "the canary's end",
        b.state.hooks().registry().canary(name).is_none()
    );
    tessera::admin::plugins::remove(a.state.store(), name)
        .await
        .unwrap();
    let _ = within_a_second!(
        "the removal",
        tenant(b.access_token(&client).await).is_none()
    );
    b.stop().await;
    a.stop().await;
}
