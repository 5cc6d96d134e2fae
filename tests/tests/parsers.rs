//! Bounded property tests of the request parsers: mutated inputs never panic a parser, and
//! sent to the real endpoints they never produce a 5xx; every refusal is an OAuth error
//! (`error` in a JSON body) or, at the authorization endpoint, an error page or redirect.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tessera_tests::fuzz::{Rng, mutate, run, targets};
use tessera_tests::{Db, TestServer};

#[test]
fn parsers_do_not_panic_on_mutated_input() {
    for t in targets() {
        if let Err(input) = run(&t, 0x5eed, 20_000, None) {
            panic!(
                "{} panicked on {:?}",
                t.name,
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_answer_mutated_requests_with_oauth_errors() {
    let srv = TestServer::start(Db::Sqlite).await;
    let c = srv.cc_client("client_secret_basic", true).await;
    let web = srv.web_client(serde_json::json!({})).await;
    let token = srv.access_token(&c).await;
    let basic = format!("{}:{}", c.client.client_id, c.secret.as_deref().unwrap());
    let seeds = [
        format!("grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi.example%2F&token={token}"),
        format!("grant_type=refresh_token&refresh_token=x&client_id={}&client_secret=y", c.client.client_id),
        "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Frp.example%2Fcb&code_verifier=v".into(),
        format!("token={token}&token_type_hint=access_token"),
    ];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut rng = Rng::new(42);
    for i in 0..600 {
        let seed = &seeds[i % seeds.len()];
        let body = mutate(&mut rng, seed.as_bytes());
        let path = ["/token", "/introspect", "/revoke"][i % 3];
        let mut req = http
            .post(srv.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if i % 2 == 0 {
            use base64::Engine as _;
            let cred = base64::engine::general_purpose::STANDARD.encode(&basic);
            req = req.header("authorization", format!("Basic {cred}"));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert!(
            status < 500,
            "{path} {status} on {:?}",
            String::from_utf8_lossy(&body)
        );
        if status >= 400 {
            let v: Value = r.json().await.unwrap();
            assert!(v["error"].is_string(), "{path}: {v}");
        }
    }
    // The authorization endpoint: mutated query strings give a page or a redirect, never 5xx.
    let q = format!(
        "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=s&claims=%7B%22userinfo%22%3A%7B%22email%22%3Anull%7D%7D&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        web.client.client_id
    );
    for _ in 0..300 {
        let m = mutate(&mut rng, q.as_bytes());
        // Keep the URL valid as a URL: percent-encode bytes that cannot appear raw.
        let enc: String = m
            .iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b"-._~%&=+".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let r = http
            .get(format!("{}?{enc}", srv.url("/authorize")))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(
            matches!(status, 303 | 400 | 429),
            "/authorize {status} on {enc}"
        );
    }
    srv.stop().await;
}
