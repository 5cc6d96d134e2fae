//! A minimal browser for driving the login and consent pages from Rust tests: keeps cookies,
//! never follows redirects on its own, and reads the hidden form fields of our pages.

use std::collections::HashMap;

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
    /// The value of the hidden input `name` on this page.
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].replace("&amp;", "&"))
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
