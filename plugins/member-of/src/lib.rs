//! Example dynamic-scope plugin (Rust), after Janssen's `memberOf` sample: serves a dynamic scope
//! (`groups` in the manifest) by releasing the user's group memberships as a `memberOf` claim.
//!
//! Configuration:
//! - `attribute`: the user attribute holding the groups (default `groups`): a JSON array of
//!   strings, or one string with groups separated by commas;
//! - `prefix`: only groups starting with it are released (default: all), so one scope can publish
//!   one application's groups and no others.
//!
//! A user without the attribute gets no claim (`{}`); an attribute of another JSON type is a
//! plugin error, handled by the manifest's `on_error`.

use serde_json::{Value, json};
use tessera_plugin_sdk::dynamic_scope::{Context, Guest};
use tessera_plugin_sdk::host;

/// The plugin.
pub struct MemberOf;

impl Guest for MemberOf {
    fn dynamic_scope(ctx: Context) -> Result<String, String> {
        let attribute = host::config("attribute").unwrap_or_else(|| "groups".into());
        let prefix = host::config("prefix").unwrap_or_default();
        let user: Value =
            serde_json::from_str(&ctx.user).map_err(|e| format!("user is not JSON: {e}"))?;
        let groups: Vec<String> = match user.get(&attribute) {
            None | Some(Value::Null) => return Ok("{}".into()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| {
                    g.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("{attribute}: every group must be a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => s.split(',').map(|g| g.trim().to_string()).collect(),
            Some(_) => return Err(format!("{attribute}: expected an array of strings")),
        };
        let mut released: Vec<String> = groups
            .into_iter()
            .filter(|g| !g.is_empty() && g.starts_with(&prefix))
            .collect();
        released.sort();
        released.dedup();
        if released.is_empty() {
            return Ok("{}".into());
        }
        Ok(json!({ "memberOf": released }).to_string())
    }
}

tessera_plugin_sdk::export_plugin!(dynamic_scope: MemberOf);

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_plugin_sdk::dynamic_scope::Target;
    use tessera_plugin_sdk::testing;

    fn ctx(user: Value) -> Context {
        Context {
            scope: "groups".into(),
            sub: "s".into(),
            user: user.to_string(),
            client: testing::client("web"),
            granted_scopes: vec!["openid".into(), "groups".into()],
            target: Target::Userinfo,
            authentication: None,
        }
    }

    #[test]
    fn groups_with_prefix_sorted() {
        testing::set_config(&[("prefix", "app-")]);
        let out =
            MemberOf::dynamic_scope(ctx(json!({"groups": ["app-b", "other", "app-a", "app-b"]})));
        assert_eq!(out.as_deref(), Ok(r#"{"memberOf":["app-a","app-b"]}"#));
    }

    #[test]
    fn comma_string_and_missing_attribute() {
        testing::set_config(&[("attribute", "memberOf")]);
        let out = MemberOf::dynamic_scope(ctx(json!({"memberOf": "x, y"})));
        assert_eq!(out.as_deref(), Ok(r#"{"memberOf":["x","y"]}"#));
        assert_eq!(MemberOf::dynamic_scope(ctx(json!({}))).as_deref(), Ok("{}"));
        assert!(MemberOf::dynamic_scope(ctx(json!({"memberOf": 3}))).is_err());
    }
}
