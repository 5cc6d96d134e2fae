//! The command line: `serve`, `migrate`, `keys rotate|list`, `client create|list`,
//! `user create|update|list`, `scope create|update|delete|list`, `session list|revoke`,
//! `plugin check|test|list`, `config show|set|unset`, `admin init`. The resource commands work
//! offline against the database (bootstrap and recovery) or, with `--server URL`, through a
//! running server's admin API (`remote`). Lists print as tables, `--json` prints JSON; other
//! results are JSON; logs go to stderr.

mod remote;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Loaded, Settings};
use crate::crypto::{SigningAlg, keys};
use crate::model::ClientMetadata;
use crate::server::{AppState, Server, load_master_key};
use crate::store::Store;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

/// Tessera: an OAuth 2.0 / OpenID Connect authorization server.
#[derive(Debug, Parser)]
#[command(name = "tessera", version)]
pub struct Cli {
    /// TOML configuration file (settings: defaults < file < TESSERA_* variables).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run the command through this server's admin API (e.g. `https://id.example.com`) instead
    /// of against the database; the admin client's secret comes from
    /// `TESSERA_ADMIN_CLIENT_SECRET` (its id from `TESSERA_ADMIN_CLIENT_ID`, default
    /// `tessera-admin`).
    #[arg(long, global = true, env = "TESSERA_SERVER")]
    pub server: Option<String>,
    /// Print lists as JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// End-users.
    #[command(subcommand)]
    User(UserCommand),
    /// Scopes and the claims they release.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// WebAssembly plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Browser sessions (seed 001 "Sessions").
    #[command(subcommand)]
    Session(SessionCommand),
    /// The admin API's bootstrap.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The run-time configuration in the database (what `PATCH /admin/api/v1/config` changes),
    /// offline: running servers follow a change within a second.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `tessera config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the settings in force (file, environment and stored overrides; the master key
    /// masked), the overrides and the revision.
    Show,
    /// Override run-time settings: `KEY=VALUE` with a dotted key (`tokens.access_token_lifetime=900`,
    /// `features.introspection=false`); the value is JSON, or else a string.
    Set {
        /// `KEY=VALUE` pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
    },
    /// Remove overrides: the keys take their file (or default) values again.
    Unset {
        /// Dotted keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// `tessera admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the admin client `tessera-admin` (client_credentials, every admin API scope) and
    /// print its secret once. The secret is `TESSERA_ADMIN_CLIENT_SECRET` when set (16 to 512
    /// printable characters), generated otherwise. Unless an administrator exists, also make the
    /// first one: user `TESSERA_ADMIN_USERNAME` (default `admin`) with the `admin` role, password
    /// `TESSERA_ADMIN_PASSWORD` or generated and printed once (an existing user of that name is
    /// given the role, its password unchanged). With `--rotate`, give the existing admin client a
    /// new generated secret instead.
    Init {
        /// Regenerate the secret of the existing admin client.
        #[arg(long)]
        rotate: bool,
    },
}

/// `tessera session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List active sessions: sid, user, auth time, ACR and the clients signed in through each.
    List {
        /// Only this user's (login name).
        #[arg(long)]
        user: Option<String>,
    },
    /// End one session, or every session of a user: their tokens are revoked and the RPs
    /// with a back-channel logout URI are told. Prints how many ended.
    Revoke {
        /// The session's `sid`.
        #[arg(conflicts_with = "user", required_unless_present = "user")]
        sid: Option<String>,
        /// Every session of this user (login name).
        #[arg(long)]
        user: Option<String>,
    },
}

/// `tessera plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a component: which hook, world and WIT version it implements and what it imports;
    /// a clear error for a non-component or a wrong world. Exits 1 when it would be refused.
    Check {
        /// The component.
        wasm: PathBuf,
    },
    /// Run a plugin once on a JSON context, with no server: prints its answer, the call's wall
    /// time and peak memory.
    Test {
        /// The component.
        wasm: PathBuf,
        /// JSON file with the hook's `context` record (field names in snake_case).
        #[arg(long)]
        input: PathBuf,
        /// Manifest to take configuration properties and limits from (default: NAME.toml
        /// beside the component, when present).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Plugins of the running server (from its status file) with versions and last errors;
    /// with no server running, loads `plugins_dir` and reports what would serve.
    List {
        /// Load `plugins_dir` even when a server's status is available.
        #[arg(long)]
        scan: bool,
    },
}

/// `tessera user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user from JSON on stdin: `username`, `password`, optional `active` and OpenID
    /// standard claims (`name`, `email`, `address`, ...). Prints the user without the password.
    Create,
    /// Change a user from JSON on stdin: `password`, `active`, and attributes to set (standard
    /// claims or custom attributes; `null` removes one). Prints the user.
    Update {
        /// The user's login name.
        username: String,
    },
    /// List users (never their password hashes).
    List,
}

/// `tessera scope ...`
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Create a scope from JSON on stdin: `id`, `scope_type` (`openid`, `oauth`, `dynamic`,
    /// `uma`), optional `description`, `claims` (user attributes it releases; openid and dynamic
    /// only) and `default_scope`.
    Create,
    /// Change a scope's `description`, `claims` or `default_scope` from JSON on stdin.
    Update {
        /// The scope.
        id: String,
    },
    /// Delete a scope (not one of the OpenID Connect standard scopes).
    Delete {
        /// The scope.
        id: String,
    },
    /// List scopes.
    List {
        /// Only scopes of this type.
        #[arg(long = "type")]
        scope_type: Option<String>,
        /// Only the spontaneous scopes this client created.
        #[arg(long)]
        client: Option<String>,
    },
}

/// `tessera keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make new signing keys; the old ones keep verifying (stay in the JWKS) until retired.
    Rotate {
        /// Only these algorithms (default: every configured one).
        #[arg(long = "alg")]
        algs: Vec<String>,
    },
    /// List keys (public halves and status only).
    List,
}

/// `tessera client ...`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client from RFC 7591 metadata JSON on stdin; prints it with its secret (once).
    Create,
    /// List clients (never their secrets).
    List,
}

/// Runs a parsed command line with its loaded settings.
pub async fn run(cli: Cli, loaded: Loaded) -> anyhow::Result<()> {
    crate::logging::init(&loaded.settings.log);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if let Some(server) = &cli.server {
        return remote::run(cli.command, server, cli.json).await;
    }
    let json = cli.json;
    let settings = loaded.settings;
    let clock: SharedClock = Arc::new(SystemClock);
    match cli.command {
        Command::Serve => serve(settings, clock).await,
        Command::Migrate => {
            Store::open(&settings, 1).await?;
            println!("{}", serde_json::json!({"migrated": true}));
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { algs }) => {
            let store = Store::open(&settings, 2).await?;
            let master = load_master_key(&settings)?;
            let names = if algs.is_empty() {
                settings.keys.algorithms.clone()
            } else {
                algs
            };
            let algs = names
                .iter()
                .map(|a| {
                    SigningAlg::parse(a).ok_or_else(|| {
                        anyhow::anyhow!("unsupported algorithm {a:?} (RS256, ES256, EdDSA)")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let kids = keys::rotate(
                &store,
                &master,
                &algs,
                keys::Rotation::of(&settings.keys),
                clock.now(),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"rotated": kids, "signing_from": clock.now() + settings.keys.publish_ahead})
            );
            Ok(())
        }
        Command::Keys(KeysCommand::List) => {
            let store = Store::open(&settings, 2).await?;
            let rows = store.list_signing_keys().await?;
            let out: Vec<_> = rows
                .iter()
                .map(|r| serde_json::json!({"kid": r.kid, "alg": r.alg, "status": r.status, "created_at": r.created_at, "signing_from": r.signs_from(), "retire_at": r.retire_at}))
                .collect();
            print_list(json, &serde_json::Value::Array(out), KEY_COLUMNS)
        }
        Command::Client(ClientCommand::Create) => {
            let metadata: ClientMetadata =
                serde_json::from_value(read_stdin_json("client metadata")?)
                    .map_err(|e| anyhow::anyhow!("invalid_client_metadata: {e}"))?;
            let store = Store::open(&settings, 2).await?;
            let master = load_master_key(&settings)?;
            let reg = crate::oauth::registration::register(&store, &master, metadata, clock.now())
                .await?;
            println!("{}", serde_json::to_string_pretty(&reg.to_json())?);
            Ok(())
        }
        Command::User(UserCommand::Create) => {
            let input = read_stdin_json("user")?;
            let store = Store::open(&settings, 2).await?;
            let user = crate::admin::users::create(&store, input, clock.now()).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::admin::users::to_json(&user))?
            );
            Ok(())
        }
        Command::User(UserCommand::Update { username }) => {
            let input = read_stdin_json("user")?;
            let store = Store::open(&settings, 2).await?;
            let user = crate::admin::users::update(&store, &username, input, clock.now()).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::admin::users::to_json(&user))?
            );
            Ok(())
        }
        Command::Scope(cmd) => scope(cmd, &settings, clock.now(), json).await,
        Command::Config(cmd) => config(cmd, &settings, clock.now()).await,
        Command::Admin(AdminCommand::Init { rotate }) => {
            let store = Store::open(&settings, 2).await?;
            let master = load_master_key(&settings)?;
            let reg = crate::admin::clients::init_admin_client(
                &store,
                &master,
                rotate,
                std::env::var("TESSERA_ADMIN_CLIENT_SECRET").ok(),
                clock.now(),
            )
            .await?;
            let mut out = serde_json::json!({
                "client_id": reg.client.client_id,
                "client_secret": reg.secret,
                "scope": reg.client.metadata.scope,
                "token_endpoint": format!("{}/token", settings.issuer()),
            });
            crate::admin::ui::ensure_client(&store, &master, settings.issuer(), clock.now())
                .await?;
            out["console"] = format!("{}/admin", settings.issuer()).into();
            let first = crate::admin::users::init_admin_user(
                &store,
                std::env::var("TESSERA_ADMIN_USERNAME").ok(),
                std::env::var("TESSERA_ADMIN_PASSWORD").ok(),
                clock.now(),
            )
            .await?;
            if let Some((user, generated)) = first {
                out["admin_user"] = user.username.into();
                if let Some(pw) = generated {
                    out["admin_password"] = pw.into();
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::User(UserCommand::List) => {
            let store = Store::open(&settings, 2).await?;
            let out: Vec<_> = store
                .list_users()
                .await?
                .iter()
                .map(crate::admin::users::to_json)
                .collect();
            print_list(json, &serde_json::Value::Array(out), USER_COLUMNS)
        }
        Command::Plugin(cmd) => plugin(cmd, &settings).await,
        Command::Session(cmd) => {
            let state = AppState::new(settings, clock).await?;
            let out = match cmd {
                SessionCommand::List { user } => {
                    let list = crate::admin::sessions::list(&state, user.as_deref()).await?;
                    return print_list(json, &serde_json::Value::Array(list), SESSION_COLUMNS);
                }
                SessionCommand::Revoke { sid, user } => {
                    let ended =
                        crate::admin::sessions::revoke(&state, sid.as_deref(), user.as_deref())
                            .await?;
                    serde_json::json!({ "ended": ended })
                }
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        Command::Client(ClientCommand::List) => {
            let store = Store::open(&settings, 2).await?;
            let out: Vec<_> = store
                .list_clients()
                .await?
                .into_iter()
                .map(|c| {
                    let mut v = serde_json::to_value(&c.metadata).unwrap_or_default();
                    v["client_id"] = serde_json::json!(c.client_id);
                    v["client_id_issued_at"] = serde_json::json!(c.created_at);
                    v
                })
                .collect();
            print_list(json, &serde_json::Value::Array(out), CLIENT_COLUMNS)
        }
    }
}

async fn plugin(cmd: PluginCommand, settings: &Settings) -> anyhow::Result<()> {
    use crate::plugins::{Manifest, cache::CompiledCache, tool};
    let cache = if settings.plugins.cache_dir.as_os_str().is_empty() {
        None
    } else {
        let master = crate::server::load_master_key(settings)?;
        Some(CompiledCache::new(
            &settings.plugins.cache_dir,
            master.derive(crate::plugins::cache::MAC_LABEL),
        ))
    };
    match cmd {
        PluginCommand::Check { wasm } => {
            let i = tool::check(&wasm, cache.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("{}: refused: {e}", wasm.display()))?;
            println!("{}", serde_json::to_string_pretty(&i)?);
            Ok(())
        }
        PluginCommand::Test {
            wasm,
            input,
            manifest,
        } => {
            let ctx: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?,
            )
            .with_context(|| format!("{} is not JSON", input.display()))?;
            let manifest_path = manifest.or_else(|| {
                let beside = wasm.with_extension("toml");
                beside.exists().then_some(beside)
            });
            let manifest = match &manifest_path {
                Some(p) => {
                    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    Some(toml::from_str::<Manifest>(&text).map_err(|e| {
                        anyhow::anyhow!("{}: {} ({stem})", p.display(), e.message())
                    })?)
                }
                None => None,
            };
            let report = tool::test(&wasm, &ctx, manifest.as_ref(), cache.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("{}: refused: {e}", wasm.display()))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if report.failed {
                anyhow::bail!("the plugin call failed");
            }
            Ok(())
        }
        PluginCommand::List { scan } => {
            let path = tool::status_file(&settings.data_dir);
            if !scan
                && let Ok(bytes) = std::fs::read(&path)
                && let Ok(report) =
                    serde_json::from_slice::<crate::plugins::registry::StatusReport>(&bytes)
                && std::path::Path::new("/proc")
                    .join(report.pid.to_string())
                    .exists()
            {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            let plugins = tool::list(&settings.plugins_dir, cache).await;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "dir": settings.plugins_dir,
                    "server": null,
                    "plugins": plugins,
                }))?
            );
            Ok(())
        }
    }
}

async fn scope(
    cmd: ScopeCommand,
    settings: &Settings,
    now: crate::clock::UnixTime,
    json: bool,
) -> anyhow::Result<()> {
    use crate::admin::scopes;
    let store = Store::open(settings, 2).await?;
    let out = match cmd {
        ScopeCommand::Create => {
            scopes::to_json(&scopes::create(&store, read_stdin_json("scope")?, now).await?)
        }
        ScopeCommand::Update { id } => scopes::to_json(
            &scopes::update(&store, &id, read_stdin_json("scope")?, now, None).await?,
        ),
        ScopeCommand::Delete { id } => {
            scopes::delete(&store, &id).await?;
            serde_json::json!({ "deleted": id })
        }
        ScopeCommand::List { scope_type, client } => {
            let list: Vec<_> = store
                .list_scopes()
                .await?
                .iter()
                .filter(|s| scope_type.as_ref().is_none_or(|t| *t == s.scope_type))
                .filter(|s| client.is_none() || s.creator_id == client)
                .map(scopes::to_json)
                .collect();
            return print_list(json, &serde_json::Value::Array(list), SCOPE_COLUMNS);
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// A table's columns: heading and the member of each item shown under it.
type Columns = &'static [(&'static str, &'static str)];

const CLIENT_COLUMNS: Columns = &[
    ("CLIENT ID", "client_id"),
    ("NAME", "client_name"),
    ("GRANTS", "grant_types"),
    ("AUTH METHOD", "token_endpoint_auth_method"),
    ("ACTIVE", "active"),
];
const SCOPE_COLUMNS: Columns = &[
    ("SCOPE", "id"),
    ("TYPE", "scope_type"),
    ("DESCRIPTION", "description"),
    ("CLAIMS", "claims"),
    ("CREATOR", "creator"),
];
const KEY_COLUMNS: Columns = &[
    ("KID", "kid"),
    ("ALG", "alg"),
    ("STATUS", "status"),
    ("CREATED", "created_at"),
    ("SIGNS FROM", "signing_from"),
    ("RETIRES", "retire_at"),
];
const SESSION_COLUMNS: Columns = &[
    ("SID", "sid"),
    ("USER", "user_id"),
    ("ACR", "acr"),
    ("SIGNED IN", "auth_time"),
    ("CLIENTS", "clients"),
];
const USER_COLUMNS: Columns = &[
    ("USERNAME", "username"),
    ("SUB", "sub"),
    ("ACTIVE", "active"),
    ("ROLES", "tessera_roles"),
];
const PLUGIN_COLUMNS: Columns = &[
    ("PLUGIN", "name"),
    ("VERSION", "version"),
    ("HOOK", "hook"),
    ("STATE", "state"),
    ("CALLS", "calls"),
    ("ERRORS", "errors"),
    ("P50 µs", "p50_us"),
    ("P99 µs", "p99_us"),
];

/// Prints `items` (a JSON array) as JSON when `json`, else as a table of `columns`.
fn print_list(json: bool, items: &serde_json::Value, columns: Columns) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(items)?);
        return Ok(());
    }
    print!("{}", table(items, columns));
    Ok(())
}

/// `items` as aligned columns; arrays are joined with commas, absent values shown as `-`.
fn table(items: &serde_json::Value, columns: Columns) -> String {
    use serde_json::Value;
    let cell = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = items
        .as_array()
        .map(|a| {
            a.iter()
                .map(|item| columns.iter().map(|(_, k)| cell(&item[*k])).collect())
                .collect()
        })
        .unwrap_or_default();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(columns.iter().map(|(h, _)| *h).collect());
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn read_stdin_json(what: &str) -> anyhow::Result<serde_json::Value> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .with_context(|| format!("reading the {what} JSON from stdin"))?;
    serde_json::from_str(&input).map_err(|e| anyhow::anyhow!("invalid {what} JSON: {e}"))
}

async fn serve(settings: Settings, clock: SharedClock) -> anyhow::Result<()> {
    let addr = settings.listen_addr()?;
    let state = AppState::new(settings, clock).await?;
    let first = crate::admin::bootstrap(
        &state,
        std::env::var("TESSERA_ADMIN_USERNAME").ok(),
        std::env::var("TESSERA_ADMIN_PASSWORD").ok(),
    )
    .await
    .context("making the admin console's client and the first administrator")?;
    if let Some(first) = first {
        tracing::info!(
            username = first.username.as_str(),
            "first administrator created"
        );
        if let Some(pw) = first.generated_password {
            // Shown once, on the terminal only (never in the log).
            eprintln!(
                "\nFirst administrator: {} / {pw}\nSign in at {}/admin (the password is not shown again).\n",
                first.username,
                state.issuer()
            );
        }
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(listen = %listener.local_addr()?, issuer = state.issuer(), "tessera is serving");
    Server::serve_with_listener(state, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn config(
    cmd: ConfigCommand,
    base: &Settings,
    now: crate::clock::UnixTime,
) -> anyhow::Result<()> {
    let store = Store::open(base, 2).await?;
    let changes: Vec<(String, Option<serde_json::Value>)> = match cmd {
        ConfigCommand::Show => {
            let row = store.server_config().await?;
            let settings = base.with_stored_overrides(&row.overrides);
            let out = serde_json::json!({
                "revision": row.revision,
                "updated_at": row.updated_at,
                "updated_by": row.updated_by,
                "overrides": row.overrides,
                "settings": settings.to_public_json(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(());
        }
        ConfigCommand::Set { pairs } => pairs
            .iter()
            .map(|p| {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("{p}: expected KEY=VALUE"))?;
                let value = crate::admin::config::typed(v);
                Ok((k.to_string(), Some(value)))
            })
            .collect::<anyhow::Result<_>>()?,
        ConfigCommand::Unset { keys } => keys.into_iter().map(|k| (k, None)).collect(),
    };
    let (row, _) = crate::admin::config::set_keys(&store, base, &changes, "cli", now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(
            &serde_json::json!({"revision": row.revision, "overrides": row.overrides})
        )?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_as_aligned_columns() {
        let items = serde_json::json!([
            {"client_id": "a", "client_name": "App", "grant_types": ["client_credentials", "refresh_token"], "token_endpoint_auth_method": "none", "active": true},
            {"client_id": "bbbb", "grant_types": [], "token_endpoint_auth_method": "client_secret_basic", "active": false},
        ]);
        assert_eq!(
            table(&items, CLIENT_COLUMNS),
            "CLIENT ID  NAME  GRANTS                            AUTH METHOD          ACTIVE\n\
             a          App   client_credentials,refresh_token  none                 true\n\
             bbbb       -                                       client_secret_basic  false\n"
        );
    }
}
