//! Example end-session plugin: a branded logout page (`config.title`) that loads every RP's
//! front-channel logout URI in a hidden iframe, then offers the post-logout redirect.

use tessera_plugin_sdk::end_session::{Context, Guest};
use tessera_plugin_sdk::host;

/// The plugin.
pub struct LogoutPage;

impl Guest for LogoutPage {
    fn end_session(ctx: Context) -> Result<Option<String>, String> {
        let title = host::config("title").unwrap_or_else(|| "Signed out".into());
        let mut html = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
             <body><h1>{t}</h1>",
            t = escape(&title)
        );
        for rp in &ctx.frontchannel {
            html.push_str(&format!(
                "<iframe hidden src=\"{}\" title=\"{}\"></iframe>",
                escape(&rp.uri),
                escape(&rp.client_id)
            ));
        }
        if let Some(uri) = &ctx.post_logout_redirect_uri {
            let mut target = uri.clone();
            if let Some(state) = &ctx.state {
                target.push(if target.contains('?') { '&' } else { '?' });
                target.push_str("state=");
                target.push_str(&percent_encode(state));
            }
            html.push_str(&format!(
                "<p><a href=\"{}\">Continue</a></p>",
                escape(&target)
            ));
        }
        html.push_str("</body></html>");
        Ok(Some(html))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

tessera_plugin_sdk::export_plugin!(end_session: LogoutPage);

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_plugin_sdk::end_session::FrontchannelRp;
    use tessera_plugin_sdk::testing;

    #[test]
    fn page_has_iframes_escaped_and_the_redirect_with_state() {
        testing::set_config(&[("title", "Bye <you>")]);
        let html = LogoutPage::end_session(Context {
            sid: "s".into(),
            user_id: None,
            frontchannel: vec![FrontchannelRp {
                client_id: "a".into(),
                uri: "https://a.example/logout?iss=x&sid=s".into(),
            }],
            post_logout_redirect_uri: Some("https://a.example/bye".into()),
            state: Some("x y".into()),
        })
        .expect("ok")
        .expect("page");
        assert!(html.contains("<h1>Bye &lt;you&gt;</h1>"));
        assert!(html.contains("src=\"https://a.example/logout?iss=x&amp;sid=s\""));
        assert!(html.contains("href=\"https://a.example/bye?state=x%20y\""));
    }
}
