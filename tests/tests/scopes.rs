//! Scopes and claims (seeds 001, 002) through the real endpoints: userinfo and the ID token
//! release exactly the claims of the granted standard, custom and dynamic scopes; dynamic scopes
//! served by a Python and a Rust plugin; spontaneous scopes at /token and /authorize.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::admin::scopes;
use tessera::oauth::registration::Registered;
use tessera_tests::browser::{Browser, tokens_for};
use tessera_tests::plugins::{install_as, wasm};
use tessera_tests::{Db, TestServer, challenge, jwt_parts, on_both_backends};

on_both_backends!(
    userinfo_releases_exactly_the_granted_scopes,
    userinfo_needs_openid_unless_backward_compatible,
    dynamic_scopes_from_python_and_rust_plugins,
    dynamic_scope_plugin_order_is_deterministic,
    dynamic_scope_faults_follow_on_error,
    spontaneous_scopes_at_the_token_endpoint,
    spontaneous_scopes_at_the_authorization_endpoint,
    remote_data_through_allow_listed_http_only,
    session_claims_and_a_0_1_plugin_beside_0_2_plugins,
);

async fn create_scope(srv: &TestServer, input: Value) {
    scopes::create(srv.state.store(), input, srv.state.now())
        .await
        .unwrap();
}

/// Signs alice in to `reg` asking for `scope`; (userinfo JSON, ID token claims or null).
async fn claims_for(srv: &TestServer, reg: &Registered, scope: &str) -> (Value, Value) {
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(srv, reg, &mut b, &[("scope", scope)]).await;
    let at = tokens["access_token"].as_str().unwrap();
    let resp = srv.userinfo(at).await;
    assert_eq!(resp.status(), 200);
    let userinfo: Value = resp.json().await.unwrap();
    let id_token = tokens["id_token"]
        .as_str()
        .map_or(Value::Null, |t| jwt_parts(t).1);
    (userinfo, id_token)
}

/// The members of `v` other than `sub`, sorted.
fn names(v: &Value) -> Vec<&str> {
    let mut n: Vec<&str> = v
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "sub")
        .collect();
    n.sort();
    n
}

/// The user claims of an ID token (without the registered and authentication claims).
fn id_token_user_claims(claims: &Value) -> Value {
    let mut c = claims.as_object().unwrap().clone();
    for k in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "acr",
        "amr",
        "auth_time",
        "nonce",
        "sid",
        "at_hash",
    ] {
        c.remove(k);
    }
    Value::Object(c)
}

async fn userinfo_releases_exactly_the_granted_scopes(db: Db) {
    let srv = TestServer::start(db).await;
    // A custom OpenID scope grouping custom attributes (seed 002 "custom groupings of claims").
    create_scope(
        &srv,
        json!({"id": "badge", "scope_type": "openid", "description": "Your badge",
               "claims": ["badge_no", "site"]}),
    )
    .await;
    srv.user(
        "alice",
        json!({"badge_no": "B-7", "site": {"building": 4}, "salary": 100}),
    )
    .await;
    let reg = srv
        .web_client(json!({
            "scope": "openid profile email address phone offline_access badge",
            "include_claims_in_id_token": true,
        }))
        .await;

    let (userinfo, id_token) = claims_for(&srv, &reg, "openid email badge").await;
    assert_eq!(
        names(&userinfo),
        ["badge_no", "email", "email_verified", "site"],
        "{userinfo}"
    );
    assert_eq!(userinfo["site"], json!({"building": 4}));
    assert_eq!(id_token_user_claims(&id_token), {
        let mut u = userinfo.clone();
        u.as_object_mut().unwrap().remove("sub");
        u
    });

    // Changing a standard scope's claims changes what userinfo releases, at once.
    scopes::update(
        srv.state.store(),
        "email",
        json!({"claims": ["email"]}),
        srv.state.now(),
        None,
    )
    .await
    .unwrap();
    let (userinfo, _) = claims_for(&srv, &reg, "openid email").await;
    assert_eq!(names(&userinfo), ["email"], "{userinfo}");

    // Without "Include claims in id_token" the ID token carries no scope claims.
    let lean = srv.web_client(json!({"scope": "openid email badge"})).await;
    let (userinfo, id_token) = claims_for(&srv, &lean, "openid email badge").await;
    assert_eq!(names(&userinfo), ["badge_no", "email", "site"]);
    assert_eq!(id_token_user_claims(&id_token), json!({}), "{id_token}");
    srv.stop().await;
}

async fn userinfo_needs_openid_unless_backward_compatible(db: Db) {
    for compatible in [false, true] {
        let srv = TestServer::start_with(db, |s| {
            s.scopes.openid_scope_backward_compatibility = compatible;
        })
        .await;
        srv.user("alice", json!({})).await;
        let reg = srv.web_client(json!({})).await;
        let mut b = Browser::new(&srv.base);
        let tokens = tokens_for(&srv, &reg, &mut b, &[("scope", "profile")]).await;
        assert!(tokens.get("id_token").is_none(), "no openid, no ID token");
        let resp = srv.userinfo(tokens["access_token"].as_str().unwrap()).await;
        if compatible {
            assert_eq!(resp.status(), 200);
            let u: Value = resp.json().await.unwrap();
            assert_eq!(u["name"], "alice Example");
            assert!(u.get("email").is_none());
        } else {
            assert_eq!(resp.status(), 403);
            assert!(
                challenge(&resp).contains("error=\"insufficient_scope\""),
                "{}",
                challenge(&resp)
            );
        }
        srv.stop().await;
    }
}

async fn dynamic_scopes_from_python_and_rust_plugins(db: Db) {
    let srv = TestServer::start(db).await;
    create_scope(
        &srv,
        json!({"id": "org", "scope_type": "dynamic", "description": "Your organisation"}),
    )
    .await;
    create_scope(
        &srv,
        json!({"id": "groups", "scope_type": "dynamic", "description": "Your groups"}),
    )
    .await;
    // Python (org_name-style: from plugin configuration) and Rust (memberOf-style: from a user
    // attribute), each bound to its scope.
    install_as(
        srv.plugins_dir(),
        "org-claims",
        "dynamic-scope",
        &wasm("org-claims"),
        "on_error = \"fail-closed\"\n[limits]\ntimeout_ms = 2000\nmemory_mib = 128\n\
         [bindings]\nscopes = [\"org\"]\n[config]\norg_names = \"example.com=Example Corp\"\n",
    );
    install_as(
        srv.plugins_dir(),
        "member-of",
        "dynamic-scope",
        &wasm("member-of"),
        "[bindings]\nscopes = [\"groups\"]\n",
    );
    assert!(srv.reload_plugins().await.is_empty());
    srv.user("alice", json!({"groups": ["staff", "admins", "staff"]}))
        .await;
    let reg = srv
        .web_client(json!({
            "scope": "openid email org groups",
            "include_claims_in_id_token": true,
        }))
        .await;

    let (userinfo, id_token) = claims_for(&srv, &reg, "openid org groups").await;
    let expected = json!({
        "org": {"domain": "example.com", "name": "Example Corp"},
        "memberOf": ["admins", "staff"],
    });
    assert_eq!(
        userinfo,
        json!({"sub": userinfo["sub"], "org": expected["org"], "memberOf": expected["memberOf"]})
    );
    assert_eq!(id_token_user_claims(&id_token), expected, "{id_token}");
    // A dynamic scope not granted runs nothing.
    let (userinfo, _) = claims_for(&srv, &reg, "openid email").await;
    assert_eq!(names(&userinfo), ["email", "email_verified"]);

    // The host's claims win: an attribute linked to the dynamic scope is released as stored,
    // and the plugin's claim of the same name is dropped.
    scopes::update(
        srv.state.store(),
        "groups",
        json!({"claims": ["memberOf"]}),
        srv.state.now(),
        None,
    )
    .await
    .unwrap();
    tessera::admin::users::update(
        srv.state.store(),
        "alice",
        json!({"memberOf": "set-by-the-directory"}),
        srv.state.now(),
    )
    .await
    .unwrap();
    let (userinfo, _) = claims_for(&srv, &reg, "openid groups").await;
    assert_eq!(userinfo["memberOf"], "set-by-the-directory");
    srv.stop().await;
}

async fn dynamic_scope_plugin_order_is_deterministic(db: Db) {
    let srv = TestServer::start(db).await;
    create_scope(&srv, json!({"id": "groups", "scope_type": "dynamic"})).await;
    // Two plugins serve the scope and both answer `memberOf`: the one that runs first (lower
    // priority number, then name) wins, whatever the file order.
    for (name, priority, attribute) in [("a-roles", 20, "roles"), ("b-groups", 10, "groups")] {
        install_as(
            srv.plugins_dir(),
            name,
            "dynamic-scope",
            &wasm("member-of"),
            &format!(
                "priority = {priority}\n[bindings]\nscopes = [\"groups\"]\n[config]\nattribute = \"{attribute}\"\n"
            ),
        );
    }
    assert!(srv.reload_plugins().await.is_empty());
    srv.user("alice", json!({"groups": ["g"], "roles": ["r"]}))
        .await;
    let reg = srv.web_client(json!({"scope": "openid groups"})).await;
    for _ in 0..3 {
        let (userinfo, _) = claims_for(&srv, &reg, "openid groups").await;
        assert_eq!(userinfo["memberOf"], json!(["g"]), "priority 10 runs first");
    }
    srv.stop().await;
}

fn counted(srv: &TestServer, name: &str) -> (u64, u64) {
    let s = srv.state.hooks().registry().status();
    let p = s.iter().find(|p| p.name == name).unwrap();
    (p.calls, p.errors)
}

async fn dynamic_scope_faults_follow_on_error(db: Db) {
    let srv = TestServer::start(db).await;
    create_scope(&srv, json!({"id": "dyn", "scope_type": "dynamic"})).await;
    srv.user("alice", json!({})).await;
    let reg = srv
        .web_client(json!({
            "scope": "openid email dyn offline_access",
            "include_claims_in_id_token": true,
        }))
        .await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(
        &srv,
        &reg,
        &mut b,
        &[("scope", "openid email dyn offline_access")],
    )
    .await;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let install = |mode: &str, policy: &str| {
        install_as(
            srv.plugins_dir(),
            "faulty-dynamic",
            "dynamic-scope",
            &wasm("faulty-dynamic"),
            &format!(
                "on_error = \"{policy}\"\n[limits]\ntimeout_ms = 50\n[bindings]\nscopes = [\"dyn\"]\n[config]\nmode = \"{mode}\"\n"
            ),
        );
    };
    install("ok", "fail-closed");
    assert!(srv.reload_plugins().await.is_empty());
    let ok: Value = srv.userinfo(&at).await.json().await.unwrap();
    assert_eq!(ok["fixture"], "ok", "{ok}");
    for mode in ["trap", "loop", "err"] {
        install(mode, "fail-closed");
        assert!(srv.reload_plugins().await.is_empty());
        let before = counted(&srv, "faulty-dynamic");
        let resp = srv.userinfo(&at).await;
        assert_eq!(resp.status(), 500, "{mode}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "server_error",
            "{mode}"
        );
        let after = counted(&srv, "faulty-dynamic");
        assert_eq!(after, (before.0 + 1, before.1 + 1), "{mode}: counted");
        // The ID token at a refresh fails the same way: no token without its claims.
        let refresh = srv
            .post_form(
                "/token",
                Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(refresh.status(), 500, "{mode}: refresh");

        install(mode, "fail-open");
        assert!(srv.reload_plugins().await.is_empty());
        let before = counted(&srv, "faulty-dynamic");
        let resp = srv.userinfo(&at).await;
        assert_eq!(resp.status(), 200, "{mode}");
        let u: Value = resp.json().await.unwrap();
        assert_eq!(
            names(&u),
            ["email", "email_verified"],
            "{mode}: as if absent"
        );
        let after = counted(&srv, "faulty-dynamic");
        assert_eq!(after, (before.0 + 1, before.1 + 1), "{mode}: counted");
    }
    srv.stop().await;
}

async fn spontaneous_scopes_at_the_token_endpoint(db: Db) {
    let srv = TestServer::start(db).await;
    let allowed = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "scope": "a",
            "allow_spontaneous_scopes": true,
            "spontaneous_scopes": ["^transaction:.+$"],
        }))
        .await;
    let flag_off = srv
        .client(json!({
            "grant_types": ["client_credentials"],
            "scope": "a",
            "spontaneous_scopes": ["^transaction:.+$"],
        }))
        .await;
    let basic = |r: &Registered| {
        (
            r.client.client_id.clone(),
            r.secret.clone().unwrap_or_default(),
        )
    };
    let token = |r: &Registered, scope: &str| {
        let (id, secret) = basic(r);
        let scope = scope.to_string();
        let srv = &srv;
        async move {
            srv.post_form(
                "/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials"), ("scope", &scope)],
            )
            .await
        }
    };
    let resp = token(&allowed, "a transaction:245").await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "a transaction:245");
    let intro = srv
        .introspect(&allowed, body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["scope"], "a transaction:245");
    // Recorded once, as the client's spontaneous scope.
    token(&allowed, "transaction:245").await;
    let created: Vec<_> = srv
        .state
        .store()
        .list_scopes()
        .await
        .unwrap()
        .iter()
        .filter(|s| s.creator_id.as_deref() == Some(allowed.client.client_id.as_str()))
        .cloned()
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].scope_id, "transaction:245");
    assert_eq!(created[0].scope_type, "spontaneous");
    assert_eq!(created[0].creator, "client");
    // One client's values are not advertised as the server's scopes.
    let discovery = srv.get_json("/.well-known/openid-configuration").await;
    let supported = discovery["scopes_supported"].as_array().unwrap();
    assert!(supported.contains(&json!("openid")));
    assert!(
        !supported.contains(&json!("transaction:245")),
        "{supported:?}"
    );

    for (who, scope) in [
        (&allowed, "transaction:"),
        (&allowed, "transactions:1"),
        (&allowed, "x transaction:1"),
        (&flag_off, "transaction:245"),
    ] {
        let resp = token(who, scope).await;
        assert_eq!(resp.status(), 400, "{scope}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"],
            "invalid_scope",
            "{scope}"
        );
    }
    // A pattern never reaches a scope an administrator defined.
    create_scope(
        &srv,
        json!({"id": "transaction:admin", "scope_type": "oauth"}),
    )
    .await;
    let resp = token(&allowed, "transaction:admin").await;
    assert_eq!(resp.status(), 400);
    // Administrators cannot make spontaneous scopes by hand.
    let err = scopes::create(
        srv.state.store(),
        json!({"id": "transaction:9", "scope_type": "spontaneous"}),
        srv.state.now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("scope_type"), "{err}");
    srv.stop().await;
}

async fn spontaneous_scopes_at_the_authorization_endpoint(db: Db) {
    let srv = TestServer::start(db).await;
    srv.user("alice", json!({})).await;
    let reg = srv
        .web_client(json!({
            "scope": "openid email",
            "allow_spontaneous_scopes": true,
            "spontaneous_scopes": ["^transaction:[0-9]+$"],
        }))
        .await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(&srv, &reg, &mut b, &[("scope", "openid transaction:77")]).await;
    assert_eq!(tokens["scope"], "openid transaction:77");
    let intro = srv
        .introspect(&reg, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["scope"], "openid transaction:77");
    // A value outside the pattern is refused with a redirect carrying invalid_scope.
    let (_, challenge) = tessera_tests::browser::pkce();
    let url = tessera_tests::browser::authorize_url(
        &reg,
        &challenge,
        &[("scope", "openid transaction:x")],
    );
    let location = b.get(&url).await.location.unwrap_or_default();
    assert!(
        location.starts_with("https://rp.example/cb?") && location.contains("error=invalid_scope"),
        "{location}"
    );
    srv.stop().await;
}

/// A directory service on loopback: `/groups/KEY` answers `{"groups": [...]}` at once,
/// `/slow/KEY` after three seconds. Returns its `127.0.0.1:PORT`.
async fn directory() -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new()
        .route(
            "/groups/{key}",
            get(
                |axum::extract::Path(key): axum::extract::Path<String>| async move {
                    axum::Json(json!({"groups": ["red", "blue"], "for": key}))
                },
            ),
        )
        .route(
            "/slow/{key}",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                axum::Json(json!({"groups": ["late"]}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn install_remote(srv: &TestServer, allow: &str, url: &str, policy: &str, timeout_ms: u64) {
    install_as(
        srv.plugins_dir(),
        "remote-groups",
        "dynamic-scope",
        &wasm("remote-groups"),
        &format!(
            "on_error = \"{policy}\"\n[limits]\ntimeout_ms = {timeout_ms}\n\
             [bindings]\nscopes = [\"teams\"]\n[http]\nallow = [\"{allow}\"]\n\
             [config]\nurl = \"{url}\"\n"
        ),
    );
}

async fn remote_data_through_allow_listed_http_only(db: Db) {
    let srv = TestServer::start(db).await;
    let dir = directory().await;
    let elsewhere = directory().await;
    create_scope(&srv, json!({"id": "teams", "scope_type": "dynamic"})).await;
    srv.user("alice", json!({})).await;
    let reg = srv.web_client(json!({"scope": "openid teams"})).await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(&srv, &reg, &mut b, &[("scope", "openid teams")]).await;
    let at = tokens["access_token"].as_str().unwrap().to_string();

    // Allow-listed: the claims come from the directory (keyed by the user's e-mail).
    install_remote(
        &srv,
        &dir,
        &format!("http://{dir}/groups/{{key}}"),
        "fail-closed",
        2000,
    );
    assert!(srv.reload_plugins().await.is_empty());
    let u: Value = srv.userinfo(&at).await.json().await.unwrap();
    assert_eq!(u["teams"], json!(["red", "blue"]), "{u}");

    // Another host: the plugin gets `denied` and handles it (no claim, no plugin error), even
    // under fail-closed.
    install_remote(
        &srv,
        &dir,
        &format!("http://{elsewhere}/groups/{{key}}"),
        "fail-closed",
        2000,
    );
    assert!(srv.reload_plugins().await.is_empty());
    let before = counted(&srv, "remote-groups");
    let resp = srv.userinfo(&at).await;
    assert_eq!(resp.status(), 200);
    let u: Value = resp.json().await.unwrap();
    assert!(u.get("teams").is_none(), "{u}");
    assert_eq!(counted(&srv, "remote-groups"), (before.0 + 1, before.1));
    // Without an [http] section at all, nothing is reachable either.
    install_as(
        srv.plugins_dir(),
        "remote-groups",
        "dynamic-scope",
        &wasm("remote-groups"),
        &format!(
            "on_error = \"fail-closed\"\n[bindings]\nscopes = [\"teams\"]\n\
             [config]\nurl = \"http://{dir}/groups/{{key}}\"\n"
        ),
    );
    assert!(srv.reload_plugins().await.is_empty());
    let u: Value = srv.userinfo(&at).await.json().await.unwrap();
    assert!(u.get("teams").is_none(), "{u}");

    // A slow directory runs into the call's deadline (300 ms), not the directory's 3 s.
    for (policy, status) in [("fail-closed", 500), ("fail-open", 200)] {
        install_remote(
            &srv,
            &dir,
            &format!("http://{dir}/slow/{{key}}"),
            policy,
            300,
        );
        assert!(srv.reload_plugins().await.is_empty());
        let before = counted(&srv, "remote-groups");
        let started = std::time::Instant::now();
        let resp = srv.userinfo(&at).await;
        let took = started.elapsed();
        assert_eq!(resp.status(), status, "{policy}");
        assert!(
            took < std::time::Duration::from_millis(1500),
            "{policy}: {took:?}"
        );
        assert_eq!(
            counted(&srv, "remote-groups"),
            (before.0 + 1, before.1 + 1),
            "{policy}: a plugin error"
        );
        if status == 200 {
            let u: Value = resp.json().await.unwrap();
            assert!(u.get("teams").is_none(), "{u}");
        }
    }
    srv.stop().await;
}

async fn session_claims_and_a_0_1_plugin_beside_0_2_plugins(db: Db) {
    let srv = TestServer::start(db).await;
    create_scope(&srv, json!({"id": "login", "scope_type": "dynamic"})).await;
    create_scope(&srv, json!({"id": "legacy", "scope_type": "dynamic"})).await;
    install_as(
        srv.plugins_dir(),
        "login-context",
        "dynamic-scope",
        &wasm("login-context"),
        "[bindings]\nscopes = [\"login\"]\n[config]\nfresh_seconds = 60\n",
    );
    install_as(
        srv.plugins_dir(),
        "legacy-dynamic",
        "dynamic-scope",
        &wasm("legacy-dynamic"),
        "[bindings]\nscopes = [\"legacy\"]\n[config]\nlabel = \"old\"\n",
    );
    assert!(srv.reload_plugins().await.is_empty());
    let status = srv.state.hooks().registry().status();
    let version = |name: &str| {
        status
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.wit_version.clone())
            .unwrap()
    };
    assert_eq!(version("legacy-dynamic"), "0.1.0");
    assert_eq!(version("login-context"), "0.2.0");

    srv.user("alice", json!({})).await;
    let reg = srv
        .web_client(json!({"scope": "openid login legacy", "include_claims_in_id_token": true}))
        .await;
    let mut b = Browser::new(&srv.base);
    let tokens = tokens_for(&srv, &reg, &mut b, &[("scope", "openid login legacy")]).await;
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().unwrap());
    srv.clock.advance(90);
    let u: Value = srv
        .userinfo(tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    // Derived from the session: the ACR and the time since the user authenticated.
    assert_eq!(id_token["login_acr"], id_token["acr"]);
    assert_eq!(id_token["login_methods"], id_token["amr"]);
    assert_eq!(id_token["login_age"], 0);
    assert_eq!(id_token["login_fresh"], true);
    assert_eq!(u["login_acr"], id_token["acr"]);
    assert_eq!(u["login_age"], 90);
    assert_eq!(u["login_fresh"], false);
    // The 0.1 plugin answers through the adapted context.
    for claims in [&id_token, &u] {
        assert_eq!(claims["legacy"], "legacy via 0.1", "{claims}");
        assert_eq!(claims["legacy_config"], "old");
    }
    srv.stop().await;
}
