//! The resource commands against a running server's admin API (`--server URL`): a token from
//! the admin client's client credentials (`TESSERA_ADMIN_CLIENT_ID`, default `tessera-admin`,
//! and `TESSERA_ADMIN_CLIENT_SECRET`), then one admin API call per command, so a change made
//! this way is validated, audited and followed by every replica like one made in the console.
//! Lists print as tables unless `--json`.

use super::{
    CLIENT_COLUMNS, ClientCommand, Command, ConfigCommand, KEY_COLUMNS, KeysCommand,
    PLUGIN_COLUMNS, PluginCommand, SCOPE_COLUMNS, SESSION_COLUMNS, ScopeCommand, SessionCommand,
    USER_COLUMNS, UserCommand, print_list, read_stdin_json,
};
use crate::admin::path_segment;
use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};

/// A connection to the admin API of the server at `base`.
struct Remote {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Remote {
    /// Gets an access token with every admin scope by client credentials.
    async fn connect(server: &str) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/').to_string();
        let client_id = std::env::var("TESSERA_ADMIN_CLIENT_ID")
            .unwrap_or_else(|_| crate::admin::clients::ADMIN_CLIENT_ID.into());
        let secret = std::env::var("TESSERA_ADMIN_CLIENT_SECRET").context(
            "--server needs the admin client's secret in TESSERA_ADMIN_CLIENT_SECRET \
             (printed by `tessera admin init`)",
        )?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        let resp = http
            .post(format!("{base}/token"))
            .basic_auth(path_segment(&client_id), Some(path_segment(&secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "client_credentials")
                    .append_pair("scope", crate::admin::api::auth::ALL)
                    .finish(),
            )
            .send()
            .await
            .with_context(|| format!("reaching {base}/token"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(token) = body["access_token"].as_str() else {
            anyhow::bail!(
                "{base} refused the admin client's credentials ({status}): {}",
                body["error_description"]
                    .as_str()
                    .or(body["error"].as_str())
                    .unwrap_or("no access token")
            );
        };
        Ok(Self {
            http,
            token: token.to_string(),
            base,
        })
    }

    /// One call; an answer that is not a success becomes an error with the problem's detail.
    /// Returns the JSON body and the `ETag`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, &Value)>,
        if_match: Option<&str>,
    ) -> anyhow::Result<(Value, String)> {
        let url = format!("{}{}{path}", self.base, crate::admin::api::BASE);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        if let Some((content_type, v)) = body {
            req = req
                .header("content-type", content_type)
                .body(serde_json::to_vec(v)?);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching {url}"))?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!(
                "{method} {path}: {} ({})",
                value["detail"]
                    .as_str()
                    .or(value["title"].as_str())
                    .unwrap_or("refused"),
                status.as_u16()
            );
        }
        Ok((value, etag))
    }

    async fn get(&self, path: &str) -> anyhow::Result<(Value, String)> {
        self.call(Method::GET, path, None, None).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> anyhow::Result<Value> {
        Ok(self
            .call(method, path, Some(("application/json", body)), if_match)
            .await?
            .0)
    }
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Why a command cannot run with `--server`.
fn local_only(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`tessera {what}` works on the server's host only (the admin API has no such call); \
         run it without --server"
    )
}

/// Runs `cmd` against the server at `server`.
pub async fn run(cmd: Command, server: &str, json: bool) -> anyhow::Result<()> {
    match &cmd {
        Command::Serve => return Err(local_only("serve")),
        Command::Migrate => return Err(local_only("migrate")),
        Command::Admin(_) => return Err(local_only("admin init")),
        Command::Plugin(PluginCommand::Check { .. } | PluginCommand::Test { .. }) => {
            return Err(local_only("plugin check|test"));
        }
        _ => {}
    }
    let api = Remote::connect(server).await?;
    match cmd {
        Command::Client(ClientCommand::List) => {
            let (v, _) = api.get("/clients?limit=500").await?;
            print_list(json, &v["items"], CLIENT_COLUMNS)
        }
        Command::Client(ClientCommand::Create) => {
            let input = read_stdin_json("client")?;
            print(&api.send(Method::POST, "/clients", &input, None).await?)
        }
        Command::Scope(ScopeCommand::List { scope_type, client }) => {
            let mut path = "/scopes?limit=500".to_string();
            if let Some(t) = scope_type {
                path.push_str(&format!("&type={}", path_segment(&t)));
            }
            if let Some(c) = client {
                path.push_str(&format!("&creator_id={}", path_segment(&c)));
            }
            let (v, _) = api.get(&path).await?;
            print_list(json, &v["items"], SCOPE_COLUMNS)
        }
        Command::Scope(ScopeCommand::Create) => {
            let input = read_stdin_json("scope")?;
            print(&api.send(Method::POST, "/scopes", &input, None).await?)
        }
        Command::Scope(ScopeCommand::Update { id }) => {
            let input = read_stdin_json("scope")?;
            let path = format!("/scopes/{}", path_segment(&id));
            let (_, tag) = api.get(&path).await?;
            print(&api.send(Method::PUT, &path, &input, Some(&tag)).await?)
        }
        Command::Scope(ScopeCommand::Delete { id }) => {
            let path = format!("/scopes/{}", path_segment(&id));
            let (_, tag) = api.get(&path).await?;
            api.call(Method::DELETE, &path, None, Some(&tag)).await?;
            print(&json!({ "deleted": id }))
        }
        Command::Keys(KeysCommand::List) => {
            let (v, _) = api.get("/keys").await?;
            print_list(json, &v, KEY_COLUMNS)
        }
        Command::Keys(KeysCommand::Rotate { algs }) => print(
            &api.send(
                Method::POST,
                "/keys/rotate",
                &json!({ "algorithms": algs }),
                None,
            )
            .await?,
        ),
        Command::Session(SessionCommand::List { user }) => {
            let path = match user {
                Some(u) => format!("/sessions?limit=500&user={}", path_segment(&u)),
                None => "/sessions?limit=500".into(),
            };
            let (v, _) = api.get(&path).await?;
            print_list(json, &v["items"], SESSION_COLUMNS)
        }
        Command::Session(SessionCommand::Revoke { sid, user }) => {
            let path = match (sid, user) {
                (Some(sid), _) => format!("/sessions/{}", path_segment(&sid)),
                (None, Some(u)) => format!("/sessions?user={}", path_segment(&u)),
                (None, None) => anyhow::bail!("a sid or --user"),
            };
            let (v, _) = api.call(Method::DELETE, &path, None, None).await?;
            print(&if v.is_null() {
                json!({ "ended": 1 })
            } else {
                v
            })
        }
        Command::Plugin(PluginCommand::List { .. }) => {
            let (v, _) = api.get("/plugins").await?;
            print_list(json, &v["items"], PLUGIN_COLUMNS)
        }
        Command::Config(ConfigCommand::Show) => {
            let (v, _) = api.get("/config").await?;
            if json {
                return print(&v);
            }
            let rows: Vec<Value> = crate::admin::config::flatten(&v["settings"])
                .into_iter()
                .map(|(k, val)| json!({"key": k, "value": val.to_string()}))
                .collect();
            print_list(
                false,
                &Value::Array(rows),
                &[("PROPERTY", "key"), ("VALUE", "value")],
            )
        }
        Command::User(UserCommand::List) => {
            let (v, _) = api.get("/users?limit=500").await?;
            print_list(json, &v["items"], USER_COLUMNS)
        }
        Command::User(UserCommand::Create) => {
            let input = read_stdin_json("user")?;
            print(&api.send(Method::POST, "/users", &input, None).await?)
        }
        Command::User(UserCommand::Update { username }) => {
            let Value::Object(input) = read_stdin_json("user")? else {
                anyhow::bail!("invalid user JSON: expected an object");
            };
            let path = format!("/users/{}", path_segment(&username));
            let (current, tag) = api.get(&path).await?;
            // Members set (`add` replaces a present one), `null` removes a present one.
            let ops: Vec<Value> = input
                .into_iter()
                .filter(|(k, v)| !(v.is_null() && current.get(k).is_none()))
                .map(|(k, v)| {
                    let p = format!("/{}", k.replace('~', "~0").replace('/', "~1"));
                    if v.is_null() {
                        json!({"op": "remove", "path": p})
                    } else {
                        json!({"op": "add", "path": p, "value": v})
                    }
                })
                .collect();
            let (v, _) = api
                .call(
                    Method::PATCH,
                    &path,
                    Some(("application/json-patch+json", &Value::Array(ops))),
                    Some(&tag),
                )
                .await?;
            print(&v)
        }
        Command::Config(ConfigCommand::Unset { keys }) => {
            let ops: Vec<Value> = keys
                .iter()
                .map(|k| json!({"op": "remove", "path": crate::admin::config::pointer(k)}))
                .collect();
            let (_, tag) = api.get("/config").await?;
            let (v, _) = api
                .call(
                    Method::PATCH,
                    "/config",
                    Some(("application/json-patch+json", &Value::Array(ops))),
                    Some(&tag),
                )
                .await?;
            print(&json!({"revision": v["revision"], "overrides": v["overrides"]}))
        }
        Command::Config(ConfigCommand::Set { pairs }) => {
            let mut ops = Vec::new();
            for pair in &pairs {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("{pair:?}: expected KEY=VALUE"))?;
                ops.push(json!({
                    "op": "replace",
                    "path": crate::admin::config::pointer(key),
                    "value": crate::admin::config::typed(value),
                }));
            }
            let (_, tag) = api.get("/config").await?;
            let (v, _) = api
                .call(
                    Method::PATCH,
                    "/config",
                    Some(("application/json-patch+json", &Value::Array(ops))),
                    Some(&tag),
                )
                .await?;
            print(&json!({"revision": v["revision"], "overrides": v["overrides"]}))
        }
        _ => Err(local_only("this command")),
    }
}
