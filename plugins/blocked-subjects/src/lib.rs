//! Example introspection plugin: tokens of blocked end users are reported inactive, so resource
//! servers stop honouring them at once (say, while an account is investigated) without revoking
//! anything. `config.blocked_subjects` lists them, comma-separated, by the server's user id or
//! by the `sub` the token carries.

use tessera_plugin_sdk::host;
use tessera_plugin_sdk::introspection::{Context, Guest, Outcome};

/// The plugin.
pub struct BlockedSubjects;

impl Guest for BlockedSubjects {
    fn introspection(ctx: Context) -> Result<Outcome, String> {
        let blocked = host::config("blocked_subjects").unwrap_or_default();
        let blocked: Vec<&str> = blocked
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let sub = ctx.token.as_ref().and_then(|t| t.subject.as_deref());
        let user_id = ctx
            .token_grant
            .as_ref()
            .and_then(|g| g.subject.as_ref())
            .map(|s| s.user_id.as_str());
        if [sub, user_id]
            .into_iter()
            .flatten()
            .any(|s| blocked.contains(&s))
        {
            host::log(
                host::Level::Warn,
                "token of a blocked subject reported inactive",
            );
            return Ok(Outcome::Inactive);
        }
        Ok(Outcome::Unchanged)
    }
}

tessera_plugin_sdk::export_plugin!(introspection: BlockedSubjects);

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_plugin_sdk::testing;
    use tessera_plugin_sdk::types::{Client, Grant, Subject, Token, TokenFormat, TokenKind};

    fn ctx(user_id: &str) -> Context {
        let client = Client {
            client_id: "rs".into(),
            client_name: None,
            client_type: "confidential".into(),
            grant_types: vec![],
            scopes: vec![],
        };
        Context {
            caller: client,
            token: Some(Token {
                kind: TokenKind::AccessToken,
                format: TokenFormat::Reference,
                client_id: "app".into(),
                subject: Some(format!("sub-{user_id}")),
                scopes: vec![],
                issued_at: 0,
                expires_at: 1,
                revoked: false,
            }),
            token_grant: Some(Grant {
                grant_id: "g".into(),
                grant_type: "authorization_code".into(),
                client_id: "app".into(),
                scopes: vec![],
                subject: Some(Subject {
                    sub: format!("sub-{user_id}"),
                    user_id: user_id.into(),
                }),
            }),
            response: r#"{"active":true}"#.into(),
        }
    }

    #[test]
    fn blocked_users_are_inactive_by_user_id_or_sub() {
        testing::set_config(&[("blocked_subjects", "u-bad, sub-u-worse")]);
        assert!(matches!(
            BlockedSubjects::introspection(ctx("u-bad")),
            Ok(Outcome::Inactive)
        ));
        assert!(matches!(
            BlockedSubjects::introspection(ctx("u-worse")),
            Ok(Outcome::Inactive)
        ));
        assert!(matches!(
            BlockedSubjects::introspection(ctx("u-good")),
            Ok(Outcome::Unchanged)
        ));
    }
}
