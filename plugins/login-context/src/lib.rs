//! Example dynamic-scope plugin (Rust): claims derived from the sign-in session, after Janssen's
//! samples that read the session's authentication time and ACR. Serves a dynamic scope (`login`
//! in the manifest) with:
//! - `login_acr`: the ACR the user satisfied;
//! - `login_methods`: the authentication methods (`amr`);
//! - `login_age`: seconds since the user authenticated, by the server's clock;
//! - `login_fresh`: whether that is at most `config.fresh_seconds` (default 300).
//!
//! Grants that did not come from a sign-in (no authentication) get no claims.

use serde_json::json;
use tessera_plugin_sdk::dynamic_scope::{Context, Guest};
use tessera_plugin_sdk::host;

/// The plugin.
pub struct LoginContext;

impl Guest for LoginContext {
    fn dynamic_scope(ctx: Context) -> Result<String, String> {
        let Some(auth) = ctx.authentication else {
            return Ok("{}".into());
        };
        let fresh: i64 = match host::config("fresh_seconds") {
            None => 300,
            Some(v) => v
                .parse()
                .map_err(|_| format!("fresh_seconds: not a number: {v:?}"))?,
        };
        let age = host::now().saturating_sub(auth.auth_time).max(0);
        Ok(json!({
            "login_acr": auth.acr,
            "login_methods": auth.amr,
            "login_age": age,
            "login_fresh": age <= fresh,
        })
        .to_string())
    }
}

tessera_plugin_sdk::export_plugin!(dynamic_scope: LoginContext);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use tessera_plugin_sdk::dynamic_scope::Target;
    use tessera_plugin_sdk::testing;
    use tessera_plugin_sdk::types::Authentication;

    fn ctx(auth: Option<Authentication>) -> Context {
        Context {
            scope: "login".into(),
            sub: "s".into(),
            user: "{}".into(),
            client: testing::client("web"),
            granted_scopes: vec!["openid".into(), "login".into()],
            target: Target::IdToken,
            authentication: auth,
        }
    }

    #[test]
    fn age_and_freshness() {
        testing::set_config(&[("fresh_seconds", "60")]);
        testing::set_now(1_000);
        let auth = Authentication {
            auth_time: 900,
            acr: "simple_password_auth".into(),
            amr: vec!["pwd".into()],
            sid: None,
        };
        let out = LoginContext::dynamic_scope(ctx(Some(auth))).expect("claims");
        let out: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(
            out,
            json!({"login_acr": "simple_password_auth", "login_methods": ["pwd"],
                   "login_age": 100, "login_fresh": false})
        );
        assert_eq!(LoginContext::dynamic_scope(ctx(None)).as_deref(), Ok("{}"));
    }
}
