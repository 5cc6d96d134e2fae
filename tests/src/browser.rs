//! A minimal browser for driving the login and consent pages from Rust tests: keeps cookies,
//! never follows redirects on its own, and reads the hidden form fields of our pages.

use crate::TestServer;
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use tessera::oauth::registration::Registered;

/// One response, read whole.
#[derive(Debug)]
pub struct Page {
    /// Status code.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub body: String,
}

impl Page {
    /// The OAuth error code an error page carries in its `data-error` attribute.
    pub fn error_code(&self) -> Option<String> {
        self.quoted_after("data-error=\"").map(str::to_string)
    }

    /// The value of the hidden input `name` on this page.
    pub fn field(&self, name: &str) -> Option<String> {
        self.quoted_after(&format!("name=\"{name}\" value=\""))
            .map(|v| v.replace("&amp;", "&"))
    }

    /// The text between `marker` and the next `"` in the body.
    fn quoted_after(&self, marker: &str) -> Option<&str> {
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(&self.body[start..start + end])
    }
}

/// A cookie-keeping HTTP client.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    /// Cookies by name.
    pub cookies: HashMap<String, String>,
}

impl Browser {
    /// A browser with no cookies, for the server at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_string()
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(reqwest::header::COOKIE, cookie.join("; "))
        };
        let resp = req.send().await.unwrap();
        for sc in resp.headers().get_all(reqwest::header::SET_COOKIE) {
            let sc = sc.to_str().unwrap();
            let (pair, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| v.to_str().unwrap().to_string()),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    /// GET `url` (absolute, or a path on the server).
    pub async fn get(&mut self, url: &str) -> Page {
        let req = self.http.get(self.abs(url));
        self.send(req).await
    }

    /// POST a form to `url`.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.abs(url)).form(form);
        self.send(req).await
    }

    /// Follows redirects that stay on the server; returns the first page that is not such a
    /// redirect (a page, or a redirect to the client).
    pub async fn follow(&mut self, mut page: Page) -> Page {
        while let Some(loc) = page.location.clone() {
            if !(loc.starts_with('/') || loc.starts_with(&self.base)) {
                break;
            }
            page = self.get(&loc).await;
        }
        page
    }

    /// GETs `url` and follows on-server redirects.
    pub async fn open(&mut self, url: &str) -> Page {
        let first = self.get(url).await;
        self.follow(first).await
    }

    /// Submits the login form shown on `page` and follows on-server redirects.
    pub async fn login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let request = page.field("request").expect("login form has a request id");
        let csrf = page.field("csrf").expect("login form has a csrf token");
        let p = self
            .post(
                "/login",
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        self.follow(p).await
    }

    /// Answers the consent form shown on `page` (`allow` or `deny`) and follows redirects.
    pub async fn consent(&mut self, page: &Page, decision: &str) -> Page {
        let request = page
            .field("request")
            .expect("consent form has a request id");
        let csrf = page.field("csrf").expect("consent form has a csrf token");
        let p = self
            .post(
                "/consent",
                &[
                    ("request", &request),
                    ("csrf", &csrf),
                    ("decision", decision),
                ],
            )
            .await;
        self.follow(p).await
    }
}

/// The query (or fragment) parameters of a redirect to the client.
pub fn response_params(location: &str) -> HashMap<String, String> {
    let u = url::Url::parse(location).unwrap();
    let raw = u
        .fragment()
        .map(str::to_string)
        .or(u.query().map(str::to_string))
        .unwrap_or_default();
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// The redirect URI of the test web clients.
pub const REDIRECT: &str = "https://rp.example/cb";

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = tessera::crypto::secrets::random_token(32);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

pub fn authorize_url(reg: &Registered, challenge: &str, extra: &[(&str, &str)]) -> String {
    let scope = extra
        .iter()
        .find(|(k, _)| *k == "scope")
        .map_or("openid profile email offline_access", |(_, v)| v);
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &reg.client.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra.iter().filter(|(k, _)| *k != "scope") {
        q.append_pair(k, v);
    }
    format!("/authorize?{}", q.finish())
}

/// Runs the whole browser part: authorize, log in, consent if asked. Returns the final redirect's
/// parameters.
pub async fn sign_in(b: &mut Browser, url: &str, user: &str) -> HashMap<String, String> {
    let first = b.get(url).await;
    let mut page = b.follow(first).await;
    if page.body.contains("name=\"password\"") {
        page = b.login(&page, user, "password123").await;
    }
    if page.body.contains("name=\"decision\"") {
        page = b.consent(&page, "allow").await;
    }
    let loc = page
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect: {page:?}"));
    assert!(loc.starts_with(REDIRECT), "{loc}");
    response_params(&loc)
}

/// Exchanges `code` at the token endpoint: with Basic credentials for a confidential client,
/// by `client_id` for a public one.
pub async fn exchange(
    srv: &TestServer,
    reg: &Registered,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    let basic = match reg.secret.as_deref() {
        Some(secret) => Some((reg.client.client_id.as_str(), secret)),
        None => {
            form.push(("client_id", &reg.client.client_id));
            None
        }
    };
    srv.post_form("/token", basic, &form).await
}

/// `user` signs in with a browser of their own; returns the token response.
pub async fn tokens_of(srv: &TestServer, reg: &Registered, user: &str) -> Value {
    let mut b = Browser::new(&srv.base);
    let (verifier, challenge) = pkce();
    let params = sign_in(&mut b, &authorize_url(reg, &challenge, &[]), user).await;
    let resp = exchange(srv, reg, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// A full sign-in and code exchange; returns the token response.
pub async fn tokens_for(
    srv: &TestServer,
    reg: &Registered,
    b: &mut Browser,
    extra: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = pkce();
    let params = sign_in(b, &authorize_url(reg, &challenge, extra), "alice").await;
    let resp = exchange(srv, reg, &params["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}
