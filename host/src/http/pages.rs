//! Server-rendered HTML pages (login, consent, errors, form_post): tiny templates whose
//! `{{name}}` values are always HTML-escaped (only `{{{name}}}` inserts markup we built and
//! escaped ourselves), served with no-store and clickjacking protection.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const LAYOUT: &str = include_str!("../../templates/layout.html");
/// The login form.
pub const LOGIN: &str = include_str!("../../templates/login.html");
/// The consent form.
pub const CONSENT: &str = include_str!("../../templates/consent.html");
/// An error that must not be sent back to the client.
pub const ERROR: &str = include_str!("../../templates/error.html");
/// OAuth 2.0 Form Post Response Mode.
pub const FORM_POST: &str = include_str!("../../templates/form_post.html");

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// A value for [`render`]: text (escaped) or markup built by the caller (inserted as is).
pub enum Val<'a> {
    /// Escaped on insertion; for `{{name}}`.
    Text(&'a str),
    /// Inserted verbatim; for `{{{name}}}`, only with markup whose parts were escaped.
    Html(String),
}

/// Fills `template`'s placeholders. Unknown placeholders are left empty.
pub fn render(template: &str, vars: &[(&str, Val<'_>)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let raw = rest[start..].starts_with("{{{");
        let (open, close) = if raw { (3, "}}}") } else { (2, "}}") };
        let after = &rest[start + open..];
        let Some(end) = after.find(close) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v) {
            Some(Val::Text(t)) => out.push_str(&escape(t)),
            Some(Val::Html(h)) => out.push_str(h),
            None => {}
        }
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

/// A full HTML response: `body` inside the layout, with the page security headers.
/// `script_nonce` allows one inline script (form_post).
pub fn page(status: StatusCode, title: &str, body: String, script_nonce: Option<&str>) -> Response {
    let html = render(
        LAYOUT,
        &[("title", Val::Text(title)), ("body", Val::Html(body))],
    );
    let mut resp = (status, html).into_response();
    let script = match script_nonce {
        Some(n) => format!("script-src 'nonce-{n}'; "),
        None => String::new(),
    };
    let csp = format!(
        "default-src 'none'; {script}style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    security_headers(h);
    resp
}

/// no-store, no framing, no sniffing, no referrer: for every page and every redirect that may
/// carry a code or an error.
pub fn security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The error page: shown instead of redirecting when the client or redirect URI is not trusted.
pub fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    let body = render(
        ERROR,
        &[
            ("heading", Val::Text(heading)),
            ("message", Val::Text(message)),
        ],
    );
    page(status, heading, body, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_keeps_markup() {
        let out = render(
            "<p>{{a}}</p>{{{b}}}<i>{{missing}}</i>",
            &[
                ("a", Val::Text("<script>alert('x')</script>&\"")),
                ("b", Val::Html("<b>ok</b>".into())),
            ],
        );
        assert_eq!(
            out,
            "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;</p><b>ok</b><i></i>"
        );
    }
}
