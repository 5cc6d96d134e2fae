//! Server-rendered HTML pages (login, consent, errors, form_post, logout): tiny templates whose
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
/// The default logout page (front-channel iframes, then the post-logout redirect).
pub const LOGOUT: &str = include_str!("../../templates/logout.html");
/// "Sign out?": asked when an end-session request does not identify the RP.
pub const LOGOUT_CONFIRM: &str = include_str!("../../templates/logout_confirm.html");

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

/// What a page's Content-Security-Policy allows beyond `default-src 'none'` and inline styles.
#[derive(Debug, Default)]
pub struct Csp<'a> {
    /// One inline script carrying this nonce (form_post, the logout page).
    pub script_nonce: Option<&'a str>,
    /// Inline scripts allowed by their hash (`sha256-...`, standard base64).
    pub script_hashes: Vec<String>,
    /// Origins the page may load in frames (front-channel logout).
    pub frame_src: Vec<String>,
}

impl Csp<'_> {
    fn header(&self) -> String {
        let mut scripts: Vec<String> = self
            .script_nonce
            .map(|n| format!("'nonce-{n}'"))
            .into_iter()
            .collect();
        scripts.extend(self.script_hashes.iter().map(|h| format!("'{h}'")));
        let script = if scripts.is_empty() {
            String::new()
        } else {
            format!("script-src {}; ", scripts.join(" "))
        };
        let frame = if self.frame_src.is_empty() {
            String::new()
        } else {
            format!("frame-src {}; ", self.frame_src.join(" "))
        };
        format!(
            "default-src 'none'; {script}{frame}style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    }
}

/// A full HTML response: `body` inside the layout, with the page security headers.
/// `script_nonce` allows one inline script (form_post).
pub fn page(status: StatusCode, title: &str, body: String, script_nonce: Option<&str>) -> Response {
    page_with(
        status,
        title,
        body,
        &Csp {
            script_nonce,
            ..Csp::default()
        },
    )
}

/// [`page`] with a policy of the caller's.
pub fn page_with(status: StatusCode, title: &str, body: String, csp: &Csp<'_>) -> Response {
    let html = render(
        LAYOUT,
        &[("title", Val::Text(title)), ("body", Val::Html(body))],
    );
    document(status, html, csp)
}

/// A whole HTML document (not in the layout) with the page security headers and `csp`.
pub fn document(status: StatusCode, html: String, csp: &Csp<'_>) -> Response {
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp.header()) {
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
    coded_error_page(status, heading, "", message)
}

/// The error page with an OAuth error code in its `data-error` attribute, for pages that
/// answer a protocol request (end_session).
pub fn coded_error_page(status: StatusCode, heading: &str, code: &str, message: &str) -> Response {
    let body = render(
        ERROR,
        &[
            ("heading", Val::Text(heading)),
            ("code", Val::Text(code)),
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
