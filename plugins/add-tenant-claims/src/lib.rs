//! Example update-token plugin: stamps every access token and ID token with the deployment's
//! tenant (`config.tenant`) and the grant type it came from (`gty`), and caps access-token
//! lifetime at `config.max_access_token_lifetime` seconds when set.

use tessera_plugin_sdk::host;
use tessera_plugin_sdk::serde_json::{Map, Value, json};
use tessera_plugin_sdk::types::TokenKind;
use tessera_plugin_sdk::update_token::{Context, Guest, Update};

/// The plugin.
pub struct AddTenantClaims;

impl Guest for AddTenantClaims {
    fn update_token(ctx: Context) -> Result<Update, String> {
        let tenant = host::config("tenant").ok_or("config property `tenant` is missing")?;
        let mut set = Map::new();
        set.insert("tenant".into(), json!(tenant));
        set.insert("gty".into(), json!(ctx.grant.grant_type));
        let mut lifetime = None;
        if matches!(ctx.kind, TokenKind::AccessToken)
            && let Some(max) = host::config("max_access_token_lifetime")
        {
            let max: u32 = max
                .parse()
                .map_err(|_| format!("max_access_token_lifetime {max:?} is not a number"))?;
            lifetime = Some(max);
        }
        host::log(
            host::Level::Debug,
            &format!("stamping a token for {}", ctx.client.client_id),
        );
        Ok(Update {
            set_claims: Some(Value::Object(set).to_string()),
            remove_claims: vec![],
            lifetime,
        })
    }
}

tessera_plugin_sdk::export_plugin!(update_token: AddTenantClaims);

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_plugin_sdk::testing;
    use tessera_plugin_sdk::types::{Client, Grant};

    fn ctx(kind: TokenKind) -> Context {
        Context {
            kind,
            client: Client {
                client_id: "app".into(),
                client_name: None,
                client_type: "confidential".into(),
                grant_types: vec!["client_credentials".into()],
                scopes: vec![],
            },
            grant: Grant {
                grant_id: "g".into(),
                grant_type: "client_credentials".into(),
                client_id: "app".into(),
                scopes: vec![],
                subject: None,
            },
            claims: "{}".into(),
            lifetime: 3600,
        }
    }

    #[test]
    fn stamps_tenant_and_grant_type() {
        testing::set_config(&[("tenant", "acme"), ("max_access_token_lifetime", "600")]);
        let u = AddTenantClaims::update_token(ctx(TokenKind::AccessToken)).expect("ok");
        let claims: Value =
            tessera_plugin_sdk::serde_json::from_str(u.set_claims.as_deref().expect("claims"))
                .expect("json");
        assert_eq!(
            claims,
            json!({"tenant": "acme", "gty": "client_credentials"})
        );
        assert_eq!(u.lifetime, Some(600));
        // ID tokens keep their lifetime.
        let u = AddTenantClaims::update_token(ctx(TokenKind::IdToken)).expect("ok");
        assert_eq!(u.lifetime, None);
        assert_eq!(testing::take_logs().len(), 2);
    }

    #[test]
    fn missing_tenant_is_an_error() {
        testing::set_config(&[]);
        assert!(AddTenantClaims::update_token(ctx(TokenKind::AccessToken)).is_err());
    }
}
