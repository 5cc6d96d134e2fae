//! Server-rendered HTML pages (login, consent, errors, form_post, logout, device, and the admin
//! UI's screens) on minijinja templates embedded in the binary. Every `.html` template
//! auto-escapes what it prints; undefined variables are errors (each template is rendered by a
//! unit test). Pages are served with no-store, a Content-Security-Policy and clickjacking
//! protection.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior, Value, context};
use std::sync::LazyLock;

/// Every template, by name (the name's `.html` suffix switches auto-escaping on).
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "form_post.html",
        include_str!("../../templates/form_post.html"),
    ),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "logout_confirm.html",
        include_str!("../../templates/logout_confirm.html"),
    ),
    ("device.html", include_str!("../../templates/device.html")),
    (
        "device_outcome.html",
        include_str!("../../templates/device_outcome.html"),
    ),
    (
        "admin/layout.html",
        include_str!("../../templates/admin/layout.html"),
    ),
    (
        "admin/macros.html",
        include_str!("../../templates/admin/macros.html"),
    ),
    (
        "admin/dashboard.html",
        include_str!("../../templates/admin/dashboard.html"),
    ),
    (
        "admin/sessions.html",
        include_str!("../../templates/admin/sessions.html"),
    ),
    (
        "admin/config.html",
        include_str!("../../templates/admin/config.html"),
    ),
    (
        "admin/keys.html",
        include_str!("../../templates/admin/keys.html"),
    ),
    (
        "admin/logging.html",
        include_str!("../../templates/admin/logging.html"),
    ),
    (
        "admin/clients.html",
        include_str!("../../templates/admin/clients.html"),
    ),
    (
        "admin/client.html",
        include_str!("../../templates/admin/client.html"),
    ),
    (
        "admin/scopes.html",
        include_str!("../../templates/admin/scopes.html"),
    ),
    (
        "admin/scope.html",
        include_str!("../../templates/admin/scope.html"),
    ),
    (
        "admin/acrs.html",
        include_str!("../../templates/admin/acrs.html"),
    ),
    (
        "admin/plugins.html",
        include_str!("../../templates/admin/plugins.html"),
    ),
    (
        "admin/plugin.html",
        include_str!("../../templates/admin/plugin.html"),
    ),
    (
        "admin/error.html",
        include_str!("../../templates/admin/error.html"),
    ),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // HTML escaping of the five characters that matter (minijinja's default also escapes `/`,
    // which would mangle every URL in an attribute for no gain).
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == minijinja::AutoEscape::Html
            && !value.is_safe()
            && !value.is_undefined()
            && !value.is_none()
        {
            out.write_str(&escape(&value.to_string()))
                .map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // A syntax error in an embedded template; the unit tests render every template.
            tracing::error!(template = name, error = %e, "template does not parse");
        }
    }
    env
});

/// Escapes text for HTML element content and quoted attribute values.
fn escape(s: &str) -> String {
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

/// Renders template `name` with `ctx`.
pub fn render(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(ctx)
}

/// What a page's Content-Security-Policy allows beyond `default-src 'none'`.
#[derive(Debug, Default)]
pub struct Csp<'a> {
    /// One inline script carrying this nonce (form_post, the logout page).
    pub script_nonce: Option<&'a str>,
    /// Inline scripts allowed by their hash (`sha256-...`, standard base64).
    pub script_hashes: Vec<String>,
    /// Origins the page may load in frames (front-channel logout).
    pub frame_src: Vec<String>,
    /// The admin UI's policy: scripts, styles and fetches from this origin only, forms post
    /// here only, and no inline script or style at all.
    pub same_origin_assets: bool,
}

impl Csp<'_> {
    fn header(&self) -> String {
        if self.same_origin_assets {
            return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
                .into();
        }
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

/// A full HTML response: template `name` rendered with `ctx` plus `title`, with the page
/// security headers and `csp`.
pub fn page(status: StatusCode, name: &str, title: &str, ctx: Value, csp: &Csp<'_>) -> Response {
    match render(name, context! { title => title, ..ctx }) {
        Ok(html) => document(status, html, csp),
        Err(e) => {
            tracing::error!(template = name, error = %e, "rendering a page failed");
            let mut resp = (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown.",
            )
                .into_response();
            security_headers(resp.headers_mut());
            resp
        }
    }
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
    page(
        status,
        "error.html",
        heading,
        context! { heading, code, message },
        &Csp::default(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes_what_it_prints() {
        let out = render(
            "error.html",
            context! {
                title => "t",
                heading => "<script>alert('x')</script>&\"",
                code => "a\"b",
                message => "m",
            },
        )
        .unwrap();
        assert!(out.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;"));
        assert!(out.contains("data-error=\"a&quot;b\""));
        assert!(!out.contains("<script>alert"));
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn admin_screens_render_api_data() {
        let base = context! {
            title => "t", nav => "keys", user => "root", csrf => "c",
            notice => context! { ok => (), error => "refused" },
        };
        let html = render("admin/keys.html", context! {
            keys => serde_json::json!([{"kid": "k1", "alg": "ES256", "status": "retiring", "published": true,
                "signing": false, "created_at": 1, "signing_from": 1, "retire_at": null}]),
            jwks_uri => "https://id.example/jwks", ..base.clone()
        })
        .unwrap();
        assert!(html.contains("id=\"notice-error\">refused<"));
        assert!(html.contains("action=\"/admin/keys/k1/retire\""));
        assert!(html.contains("id=\"nav-keys\" aria-current=\"page\""));
        let html = render("admin/dashboard.html", context! {
            charts => vec![context! { id => "tokens", label => "Tokens", total => 3, last => 1, points => "0.0,30.0" }],
            plugins => serde_json::json!([{"name": "p<1>", "hook": "update-token", "state": "loaded",
                "calls": 1, "errors": 0, "p50_us": null, "p99_us": 7}]),
            active_sessions => 2, clients => 3, ..base
        })
        .unwrap();
        assert!(html.contains("p&lt;1&gt;"));
        assert!(html.contains("/admin/plugins/p%3C1%3E"));
    }

    #[test]
    fn undefined_variables_are_errors() {
        assert!(render("error.html", context! { title => "t" }).is_err());
    }
}
