//! Refusals of the browser flows: redirect URIs that are not exactly registered and unknown
//! clients get an error page and never a redirect; PKCE and response type errors go back to
//! the client; forged CSRF tokens and foreign browsers are refused; userinfo's bearer errors.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera_tests::browser::{Browser, response_params};
use tessera_tests::{Db, TestServer};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn url(client_id: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "xyz");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_redirects_get_an_error_page_and_no_redirect() {
    let srv = TestServer::start(Db::Sqlite).await;
    let web = srv
        .web_client(json!({"redirect_uris": ["https://rp.example/cb", "https://rp.example:8443/app/cb?x=1"]}))
        .await;
    let native = srv
        .web_client(json!({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}))
        .await;
    let regex = srv
        .web_client(json!({"redirect_uris": ["https://rp.example/cb", "https://rp.example/admin"], "redirect_uris_regex": "https://rp\\.example/cb"}))
        .await;
    let id = web.client.client_id.as_str();
    let bad = [
        (id, "https://rp.example/cb/"),                 // trailing slash
        (id, "https://rp.example/cb?extra=1"),          // extra query
        (id, "https://rp.example:8443/app/cb?x=1&y=2"), // query added to a registered one
        (id, "https://RP.example/cb"),                  // different case (host)
        (id, "https://rp.example/CB"),                  // different case (path)
        (id, "https://rp.example@evil.example/cb"),     // userinfo part
        (id, "https://evil.example@rp.example/cb"),
        (id, "https://rp.example/x/../cb"), // dot segments
        (id, "https://rp.example/cb/../cb"),
        (id, "https://rp.example.evil.example/cb"), // suffix host
        (id, "https://rp.example:444/cb"),          // another port
        (id, "https://rp.example:443/cb"),          // explicit default port is not identical
        (id, "http://rp.example/cb"),               // other scheme
        (id, "https://rp.example/cb#frag"),
        ("no-such-client", "https://rp.example/cb"), // unknown client
        (
            native.client.client_id.as_str(),
            "http://127.0.0.1:5000/cb/",
        ),
        (native.client.client_id.as_str(), "http://localhost:5000/cb"),
        (regex.client.client_id.as_str(), "https://rp.example/admin"), // registered, fails the regex
    ];
    let mut b = Browser::new(&srv.base);
    for (client, redirect) in bad {
        let p = b
            .get(&url(
                client,
                redirect,
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                ],
            ))
            .await;
        assert_eq!(p.status, 400, "{client} {redirect}");
        assert!(p.location.is_none(), "must not redirect to {redirect}");
        assert!(
            p.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert_eq!(p.headers["x-frame-options"], "DENY");
        assert!(
            !p.body.contains("evil.example"),
            "the page does not echo the URI"
        );
    }
    // Missing client_id and missing redirect_uri on an OpenID request: also pages.
    let p = b.get("/authorize?response_type=code&scope=openid").await;
    assert!(p.status == 400 && p.location.is_none());
    let p = b
        .get(&format!(
            "/authorize?response_type=code&scope=openid&client_id={id}"
        ))
        .await;
    assert!(p.status == 400 && p.location.is_none());
    // A repeated parameter is a page too (which value would be trusted?).
    let p = b
        .get(&format!(
            "{}&redirect_uri=https%3A%2F%2Fevil.example%2F",
            url(id, "https://rp.example/cb", &[])
        ))
        .await;
    assert!(p.status == 400 && p.location.is_none());
    // The loopback exception and the regex accept what they should.
    let p = b
        .get(&url(
            &native.client.client_id,
            "http://127.0.0.1:5000/cb",
            &[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        ))
        .await;
    assert_eq!(p.status, 303);
    assert!(p.location.unwrap().starts_with("/login?"));
    let p = b
        .get(&url(&regex.client.client_id, "https://rp.example/cb", &[]))
        .await;
    assert!(p.location.unwrap().starts_with("/login?"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_go_back_to_the_client_with_state_and_iss() {
    let srv = TestServer::start(Db::Sqlite).await;
    let web = srv.web_client(json!({})).await;
    let public = srv
        .web_client(json!({"token_endpoint_auth_method": "none"}))
        .await;
    let mut b = Browser::new(&srv.base);
    let cb = "https://rp.example/cb";
    let cases: Vec<(String, &str)> = vec![
        (url(&public.client.client_id, cb, &[]), "invalid_request"), // public client, no PKCE
        (
            url(
                &web.client.client_id,
                cb,
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[("code_challenge", CHALLENGE)]),
            "invalid_request",
        ), // method defaults to plain
        (
            url(
                &public.client.client_id,
                cb,
                &[
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            url(
                &web.client.client_id,
                cb,
                &[
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ],
            ),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            url(&web.client.client_id, cb, &[])
                .replace("response_type=code", "response_type=id_token"),
            "unsupported_response_type",
        ),
        (
            url(&web.client.client_id, cb, &[]).replace("response_type=code&", ""),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[]).replace("scope=openid", "scope=openid+admin"),
            "invalid_scope",
        ),
        (
            url(&web.client.client_id, cb, &[("prompt", "none login")]),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[("prompt", "bogus")]),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[("max_age", "-1")]),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[("claims", "{not json")]),
            "invalid_request",
        ),
        (
            url(
                &web.client.client_id,
                cb,
                &[("request_uri", "urn:example:x")],
            ),
            "request_uri_not_supported",
        ),
        (
            url(&web.client.client_id, cb, &[("response_mode", "jwt")]),
            "invalid_request",
        ),
        (
            url(&web.client.client_id, cb, &[("prompt", "none")]),
            "login_required",
        ),
    ];
    for (u, expected) in cases {
        let p = b.get(&u).await;
        assert_eq!(p.status, 303, "{u}");
        let loc = p.location.unwrap();
        assert!(loc.starts_with(cb), "{loc}");
        let params = response_params(&loc);
        assert_eq!(params["error"], expected, "{u}");
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["iss"], srv.base);
        assert!(!params.contains_key("code"));
    }
    // A request object that does not verify, or one by reference from a URI the client did not
    // register: an error page (the redirect URI inside the object cannot be trusted).
    for (extra, code) in [
        (("request", "eyJ.x.y"), "invalid_request_object"),
        (
            ("request_uri", "https://x.example/y"),
            "invalid_request_uri",
        ),
    ] {
        let p = b.get(&url(&web.client.client_id, cb, &[extra])).await;
        assert_eq!(p.status, 400);
        assert_eq!(p.error_code().as_deref(), Some(code));
    }
    // The fragment and form_post modes carry errors (and iss) the same way.
    let p = b
        .get(&url(
            &web.client.client_id,
            cb,
            &[("prompt", "none"), ("response_mode", "fragment")],
        ))
        .await;
    let loc = p.location.unwrap();
    assert!(
        loc.starts_with("https://rp.example/cb#error=login_required"),
        "{loc}"
    );
    let p = b
        .get(&url(
            &web.client.client_id,
            cb,
            &[("prompt", "none"), ("response_mode", "form_post")],
        ))
        .await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("action=\"https://rp.example/cb\""));
    assert!(p.body.contains("name=\"error\" value=\"login_required\""));
    assert!(
        p.body
            .contains(&format!("name=\"iss\" value=\"{}\"", srv.base))
    );
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'nonce-") && csp.contains("frame-ancestors 'none'"));
    srv.stop().await;
}

async fn post_login(b: &mut Browser, request: &str, csrf: &str) -> tessera_tests::browser::Page {
    b.post(
        "/login",
        &[
            ("request", request),
            ("csrf", csrf),
            ("username", "alice"),
            ("password", "password123"),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_refuse_forged_csrf_and_other_browsers() {
    let srv = TestServer::start(Db::Sqlite).await;
    srv.user("alice", json!({})).await;
    let web = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let p = b
        .get(&url(&web.client.client_id, "https://rp.example/cb", &[]))
        .await;
    let login = b.follow(p).await;
    let request = login.field("request").unwrap();
    let csrf = login.field("csrf").unwrap();
    let headers = &login.headers;
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // A forged token, a missing one, and the right token from another browser: all refused.
    let forged = b
        .post(
            "/login",
            &[
                ("request", &request),
                ("csrf", "forged-token-forged-token-forged-token00"),
                ("username", "alice"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!b.cookies.contains_key("tessera_session"));
    let missing = b
        .post(
            "/login",
            &[
                ("request", &request),
                ("username", "alice"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(missing.status, 403);
    let mut other = Browser::new(&srv.base);
    let foreign = post_login(&mut other, &request, &csrf).await;
    assert_eq!(foreign.status, 403);
    assert!(!other.cookies.contains_key("tessera_session"));
    // The page escapes what the user typed.
    let xss = b
        .post(
            "/login",
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", "<script>alert(1)</script>"),
                ("password", "x"),
            ],
        )
        .await;
    assert!(
        xss.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !xss.body.contains("<script>alert")
    );
    // The real form works, and the session cookie is HttpOnly and SameSite=Lax.
    let ok = post_login(&mut b, &request, &csrf).await;
    assert_eq!(ok.status, 303);
    let set = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
        "{set}"
    );
    // Consent: a forged token is refused as well.
    let consent = b.follow(ok).await;
    let forged = b
        .post(
            "/consent",
            &[
                ("request", &request),
                ("csrf", "nope"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(consent.headers["x-frame-options"], "DENY");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_issuers_set_secure_cookies() {
    let srv = TestServer::start_with(Db::Sqlite, |s| {
        s.issuer = s.issuer.replace("http://", "https://")
    })
    .await;
    let web = srv.web_client(json!({})).await;
    let mut b = Browser::new(&srv.base);
    let p = b
        .get(&url(&web.client.client_id, "https://rp.example/cb", &[]))
        .await;
    let set = p.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("tessera_browser=") && set.contains("; Secure"),
        "{set}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_bearer_errors() {
    let srv = TestServer::start(Db::Sqlite).await;
    let cc = srv.cc_client("client_secret_basic", false).await;
    let at = srv.access_token(&cc).await;
    let get = |auth: Option<String>| {
        let mut r = srv.http.get(srv.url("/userinfo"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = get(None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tessera\"");
    let r = get(Some("Bearer not-a-token".into())).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(tessera_tests::challenge(&r).contains("error=\"invalid_token\""));
    // A client_credentials token has no openid scope and no user.
    let r = get(Some(format!("Bearer {at}"))).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(tessera_tests::challenge(&r).contains("insufficient_scope"));
    // The token in both the header and the body is a malformed request.
    let r = srv
        .http
        .post(srv.url("/userinfo"))
        .bearer_auth(&at)
        .form(&[("access_token", &at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // USERINFO off: 403 feature_disabled and gone from discovery.
    srv.state
        .set_feature(tessera::config::FeatureFlag::Userinfo, false);
    let r = get(Some(format!("Bearer {at}"))).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "feature_disabled"
    );
    assert!(
        srv.get_json("/.well-known/openid-configuration")
            .await
            .get("userinfo_endpoint")
            .is_none()
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_the_code_flow() {
    let srv = TestServer::start(Db::Sqlite).await;
    let d = srv.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["authorization_endpoint"], srv.url("/authorize"));
    assert_eq!(d["userinfo_endpoint"], srv.url("/userinfo"));
    assert_eq!(d["response_types_supported"], json!(["code"]));
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["subject_types_supported"], json!(["public", "pairwise"]));
    assert!(
        d["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token"))
    );
    assert_eq!(d["acr_values_supported"], json!(["simple_password_auth"]));
    srv.stop().await;
}
