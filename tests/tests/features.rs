//! Each feature flag with an implemented endpoint: when off, the endpoint answers a clear error
//! (403 `feature_disabled`, never a 500) and its entry disappears from discovery.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tessera::config::FeatureFlag;
use tessera_tests::{Db, TestServer};

/// Calls a flagged endpoint: GET as is, POST as the client introspecting/revoking a token.
fn call(
    srv: &TestServer,
    c: &tessera::oauth::registration::Registered,
    method: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    match method {
        "GET" => srv.http.get(srv.url(path)),
        _ => srv
            .http
            .post(srv.url(path))
            .basic_auth(&c.client.client_id, c.secret.as_deref())
            .form(&[("token", "x")]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_disabled_flag_removes_its_endpoint_and_discovery_entry() {
    // (flag, discovery keys it owns, how to call its endpoint, its status when on)
    let cases: &[(FeatureFlag, &[&str], &str, &str, u16)] = &[
        (
            FeatureFlag::Introspection,
            &[
                "introspection_endpoint",
                "introspection_endpoint_auth_methods_supported",
            ],
            "POST",
            "/introspect",
            200,
        ),
        (
            FeatureFlag::RevokeToken,
            &[
                "revocation_endpoint",
                "revocation_endpoint_auth_methods_supported",
            ],
            "POST",
            "/revoke",
            200,
        ),
        (
            FeatureFlag::HealthCheck,
            &["health_endpoint"],
            "GET",
            "/health",
            200,
        ),
        (
            FeatureFlag::EndSession,
            &[
                "end_session_endpoint",
                "frontchannel_logout_supported",
                "backchannel_logout_supported",
            ],
            "GET",
            "/end_session",
            200,
        ),
        (
            FeatureFlag::Par,
            &[
                "pushed_authorization_request_endpoint",
                "require_pushed_authorization_requests",
            ],
            "POST",
            "/par",
            400,
        ),
        (
            FeatureFlag::DeviceAuthz,
            &["device_authorization_endpoint"],
            "POST",
            "/device_authorization",
            400,
        ),
        (FeatureFlag::Ssa, &[], "GET", "/ssa", 401),
        (FeatureFlag::Stat, &[], "GET", "/stat", 401),
        (FeatureFlag::Metric, &[], "GET", "/metrics", 401),
        (
            FeatureFlag::Registration,
            &["registration_endpoint"],
            "POST",
            "/register",
            // A form body, not JSON (the body is read before the token: a software statement
            // in it may stand in for one).
            400,
        ),
        (
            FeatureFlag::ClientInfo,
            &["clientinfo_endpoint"],
            "GET",
            "/clientinfo",
            401,
        ),
        (
            FeatureFlag::IdGeneration,
            &["id_generation_endpoint"],
            "GET",
            "/id/@!1111/people",
            401,
        ),
        (
            FeatureFlag::StatusSession,
            &["session_status_endpoint"],
            "GET",
            "/session_status",
            200,
        ),
        (
            FeatureFlag::ActiveSession,
            &["active_session_endpoint"],
            "GET",
            "/active_session",
            401,
        ),
        (
            FeatureFlag::RevokeSession,
            &["session_revocation_endpoint"],
            "POST",
            "/revoke_session",
            400,
        ),
    ];
    for &(flag, keys, method, path, on_status) in cases {
        // Configured off at start-up (the way an operator does it).
        let srv = TestServer::start_with(Db::Sqlite, |s| s.features.set(flag, false)).await;
        let c = srv.cc_client("client_secret_basic", false).await;
        let doc = srv.get_json("/.well-known/openid-configuration").await;
        for k in keys {
            assert!(
                doc.get(*k).is_none(),
                "{} off: {k} still in discovery",
                flag.name()
            );
        }
        let req = call(&srv, &c, method, path);
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "{} off", flag.name());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "feature_disabled");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(flag.name())
        );

        // And back on at run time: the endpoint and its entry return.
        srv.state.set_feature(flag, true);
        let doc = srv.get_json("/.well-known/openid-configuration").await;
        for k in keys {
            assert!(
                doc.get(*k).is_some(),
                "{} on: {k} missing from discovery",
                flag.name()
            );
        }
        let req = call(&srv, &c, method, path);
        assert_eq!(
            req.send().await.unwrap().status(),
            on_status,
            "{} on",
            flag.name()
        );
        srv.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_flag_and_document_contents() {
    let srv = TestServer::start(Db::Sqlite).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = srv.get_json(path).await;
        assert_eq!(doc["issuer"], srv.base);
        assert_eq!(doc["token_endpoint"], srv.url("/token"));
        assert_eq!(doc["jwks_uri"], srv.url("/jwks"));
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        let methods = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        for m in [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none",
        ] {
            assert!(methods.iter().any(|v| v == m), "{m}");
        }
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "openid")
        );
        // Nothing that is not implemented yet is advertised.
        assert_eq!(doc["authorization_endpoint"], srv.url("/authorize"));
        assert_eq!(doc["userinfo_endpoint"], srv.url("/userinfo"));
        assert_eq!(
            doc["pushed_authorization_request_endpoint"],
            srv.url("/par")
        );
        assert_eq!(doc["registration_endpoint"], srv.url("/register"));
        assert_eq!(
            doc["device_authorization_endpoint"],
            srv.url("/device_authorization")
        );
        assert_eq!(
            doc["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "ES384", "RS256", "PS256", "EdDSA"])
        );
        assert_eq!(doc["request_parameter_supported"], true);
        // Not advertised: what is not implemented (CIBA, UMA, implicit).
        for absent in [
            "backchannel_authentication_endpoint",
            "uma_profiles_supported",
        ] {
            assert!(doc.get(absent).is_none(), "{absent}");
        }
        assert!(
            !doc["response_types_supported"]
                .to_string()
                .contains("token")
        );
    }
    srv.state.set_feature(FeatureFlag::JansConfiguration, false);
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = srv.http.get(srv.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "feature_disabled"
        );
    }
    srv.stop().await;
}
