//! Example dynamic-scope plugin (Rust, WIT 0.2): group claims read from a remote HTTP service,
//! as seed 001 allows ("requests to remote APIs or databases"). Serves a dynamic scope (`teams` in
//! the manifest) by GETting `config.url` with `{key}` replaced by the user's `config.key_attribute`
//! (default `email`, percent-encoded), expecting a JSON object with a `groups` array of strings,
//! and releasing it as the `config.claim` claim (default `teams`).
//!
//! The request goes through the server (`host.fetch`): only to hosts the operator lists in the
//! manifest's `[http] allow`, within the call's deadline. What it cannot get it handles:
//! - a denied request (host not allow-listed) or a failed one releases nothing and logs a
//!   warning: a sign-in does not fail because a directory is unreachable;
//! - a timeout or a malformed answer is a plugin error, so the manifest's `on_error` decides.

use serde_json::{Value, json};
use tessera_plugin_sdk::dynamic_scope::{Context, Guest};
use tessera_plugin_sdk::host::{self, HttpError, Level};

/// The plugin.
pub struct RemoteGroups;

impl Guest for RemoteGroups {
    fn dynamic_scope(ctx: Context) -> Result<String, String> {
        let template = host::config("url").ok_or("config url is not set")?;
        let key_attribute = host::config("key_attribute").unwrap_or_else(|| "email".into());
        let claim = host::config("claim").unwrap_or_else(|| "teams".into());
        let user: Value =
            serde_json::from_str(&ctx.user).map_err(|e| format!("user is not JSON: {e}"))?;
        let Some(key) = user.get(&key_attribute).and_then(Value::as_str) else {
            return Ok("{}".into());
        };
        let url = template.replace("{key}", &percent_encode(key));
        let response = match host::get(&url) {
            Ok(r) => r,
            Err(HttpError::Denied(why)) => {
                host::log(Level::Warn, &format!("directory request denied: {why}"));
                return Ok("{}".into());
            }
            Err(HttpError::Failed(why)) => {
                host::log(Level::Warn, &format!("directory unreachable: {why}"));
                return Ok("{}".into());
            }
            Err(HttpError::Timeout) => return Err("directory timed out".into()),
            Err(HttpError::TooLarge) => return Err("directory answer too large".into()),
        };
        if response.status == 404 {
            return Ok("{}".into());
        }
        if response.status != 200 {
            return Err(format!("directory answered {}", response.status));
        }
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("directory answer is not JSON: {e}"))?;
        let groups: Vec<&str> = body
            .get("groups")
            .and_then(Value::as_array)
            .ok_or("directory answer has no groups array")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        Ok(json!({ claim: groups }).to_string())
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

tessera_plugin_sdk::export_plugin!(dynamic_scope: RemoteGroups);

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_plugin_sdk::dynamic_scope::Target;
    use tessera_plugin_sdk::host::HttpResponse;
    use tessera_plugin_sdk::testing;

    fn ctx() -> Context {
        Context {
            scope: "teams".into(),
            sub: "s".into(),
            user: r#"{"email":"a+b@example.com"}"#.into(),
            client: testing::client("web"),
            granted_scopes: vec!["openid".into(), "teams".into()],
            target: Target::Userinfo,
            authentication: None,
        }
    }

    #[test]
    fn groups_from_the_directory() {
        testing::set_config(&[("url", "http://dir.example/groups/{key}")]);
        testing::set_http(|req| {
            assert_eq!(req.url, "http://dir.example/groups/a%2Bb%40example.com");
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: br#"{"groups":["red","blue"]}"#.to_vec(),
            })
        });
        assert_eq!(
            RemoteGroups::dynamic_scope(ctx()).as_deref(),
            Ok(r#"{"teams":["red","blue"]}"#)
        );
    }

    #[test]
    fn denied_is_handled_timeout_is_an_error() {
        testing::set_config(&[("url", "http://dir.example/{key}")]);
        testing::set_http(|_| Err(HttpError::Denied("not listed".into())));
        assert_eq!(RemoteGroups::dynamic_scope(ctx()).as_deref(), Ok("{}"));
        assert_eq!(testing::take_logs().len(), 1);
        testing::set_http(|_| Err(HttpError::Timeout));
        assert!(RemoteGroups::dynamic_scope(ctx()).is_err());
    }
}
