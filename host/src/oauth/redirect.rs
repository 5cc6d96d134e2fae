//! Redirect URIs: exact matching against the registered list (RFC 6749 §3.1.2.3, RFC 9700
//! §4.1.3), the RFC 8252 §7.3 loopback port exception for native clients, the client's optional
//! redirect regex (seed 001), and delivering a response in the `query`, `fragment` or
//! `form_post` response mode with `iss` (RFC 9207).

use crate::crypto::secrets::random_token;
use crate::http::pages;
use crate::model::Client;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Whether `requested` is a redirect URI this client registered. Comparison is by exact string:
/// no normalisation, so `/../`, a trailing slash, other case or an added query never match.
pub fn is_registered(client: &Client, requested: &str) -> bool {
    let native = client.metadata.application_type == "native";
    let listed = client
        .metadata
        .redirect_uris
        .iter()
        .any(|r| r == requested || (native && same_loopback_ignoring_port(r, requested)));
    listed && matches_regex(client, requested)
}

/// "When this field is set then redirect-URI must match with regex" (seed 001): an extra
/// condition on top of the registered list, matched against the whole URI.
fn matches_regex(client: &Client, requested: &str) -> bool {
    match &client.metadata.redirect_uris_regex {
        None => true,
        Some(re) => crate::model::pattern::full_match(re, requested),
    }
}

/// RFC 8252 §7.3: a native app's loopback redirect may use any port. Only IP literals count
/// (§8.3 advises against `localhost`), only `http`, and everything after the port must be
/// identical.
fn same_loopback_ignoring_port(registered: &str, requested: &str) -> bool {
    fn split(u: &str) -> Option<(&str, &str)> {
        let rest = u.strip_prefix("http://")?;
        let host = ["127.0.0.1", "[::1]"]
            .into_iter()
            .find(|h| rest.starts_with(h))?;
        let mut rest = &rest[host.len()..];
        if let Some(p) = rest.strip_prefix(':') {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            // A port is 1..=65535 (RFC 3986 allows more digits, but no such port exists).
            p[..digits].parse::<u16>().ok().filter(|&n| n != 0)?;
            rest = &p[digits..];
        }
        (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some((host, rest))
    }
    matches!((split(registered), split(requested)), (Some(a), Some(b)) if a == b)
}

/// How the authorization response travels (OAuth 2.0 Multiple Response Types, Form Post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// In the redirect URI's query (the default for `code`).
    Query,
    /// In the redirect URI's fragment.
    Fragment,
    /// As an auto-submitted HTML form.
    FormPost,
}

impl ResponseMode {
    /// Parses the `response_mode` parameter.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }

    /// The default mode of a `response_type` (OAuth 2.0 Multiple Response Types §5): the
    /// fragment when it returns a token or ID token, the query otherwise. Errors about an
    /// unsupported response type travel the same way.
    pub fn default_for(response_type: Option<&str>) -> Self {
        let in_fragment =
            response_type.is_some_and(|rt| rt.split(' ').any(|t| t == "token" || t == "id_token"));
        if in_fragment {
            Self::Fragment
        } else {
            Self::Query
        }
    }

    /// Every supported mode, for discovery.
    pub const ALL: &'static [&'static str] = &["query", "fragment", "form_post"];
}

/// Where and how to send the authorization response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// The validated redirect URI.
    pub redirect_uri: String,
    /// The response mode.
    pub mode: ResponseMode,
}

impl Target {
    /// Sends `params` to the client. Redirects use 303 so a POSTed login form is never re-sent.
    pub fn respond(&self, params: &[(&str, &str)]) -> Response {
        match self.mode {
            ResponseMode::FormPost => self.form_post(params),
            ResponseMode::Query | ResponseMode::Fragment => {
                let mut location = self.redirect_uri.clone();
                let encoded = encode(params);
                if self.mode == ResponseMode::Query {
                    // Keep the registered query, append ours (RFC 6749 §3.1.2).
                    location.push(if location.contains('?') { '&' } else { '?' });
                } else {
                    location.push('#');
                }
                location.push_str(&encoded);
                redirect(&location)
            }
        }
    }

    fn form_post(&self, params: &[(&str, &str)]) -> Response {
        let nonce = random_token(16);
        pages::page(
            StatusCode::OK,
            "form_post.html",
            "Continuing",
            minijinja::context! { action => &self.redirect_uri, fields => params, nonce => &nonce },
            &pages::Csp {
                script_nonce: Some(&nonce),
                ..pages::Csp::default()
            },
        )
    }
}

/// A 303 redirect with the page security headers.
pub fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            h.insert(header::LOCATION, v);
        }
        Err(_) => {
            return pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect",
                "The redirect address cannot be used.",
            );
        }
    }
    pages::security_headers(h);
    resp
}

/// `application/x-www-form-urlencoded` serialisation of `params`.
fn encode(params: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports_match_only_for_ip_literals_with_identical_rest() {
        let f = same_loopback_ignoring_port;
        assert!(f("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(f("http://127.0.0.1:8000/cb", "http://127.0.0.1:9/cb"));
        assert!(f("http://[::1]/cb?x=1", "http://[::1]:3000/cb?x=1"));
        assert!(!f("http://127.0.0.1/cb", "http://127.0.0.1:1/cb/"));
        assert!(!f("http://127.0.0.1/cb", "http://127.0.0.1:1/../cb"));
        assert!(!f("http://127.0.0.1/cb", "http://127.0.0.1.evil.com:1/cb"));
        assert!(!f("http://127.0.0.1/cb", "http://127.0.0.1:1@evil.com/cb"));
        assert!(!f("http://localhost/cb", "http://localhost:1/cb"));
        assert!(!f("https://127.0.0.1/cb", "https://127.0.0.1:1/cb"));
        assert!(!f("http://127.0.0.1/cb", "http://[::1]:1/cb"));
    }

    #[test]
    fn query_mode_keeps_the_registered_query() {
        let t = Target {
            redirect_uri: "https://rp.example/cb?x=1".into(),
            mode: ResponseMode::Query,
        };
        let r = t.respond(&[("code", "a b"), ("state", "s&t")]);
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://rp.example/cb?x=1&code=a+b&state=s%26t"
        );
    }
}
