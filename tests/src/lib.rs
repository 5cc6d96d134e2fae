//! Test harness: starts the real Tessera server in-process on `127.0.0.1:0` over SQLite (a temp
//! file) or PostgreSQL (a fresh database per test), and small helpers to drive it over HTTP.

#![allow(clippy::unwrap_used)]

pub mod browser;
pub mod e2e;
pub mod fuzz;
pub mod plugins;
pub mod rp;

use std::sync::Arc;
use tessera::clock::{ManualClock, SharedClock};
use tessera::config::Settings;
use tessera::model::ClientMetadata;
use tessera::oauth::registration::{Registered, register};
use tessera::{AppState, Server};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The master key of every test server and CLI run, so that they share one compiled-plugin
/// cache (its files are authenticated with a key derived from the master key).
pub const TEST_MASTER_KEY: &str = "dGVzc2VyYS10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM";

/// The MAC key of the shared compiled-plugin cache (derived from [`TEST_MASTER_KEY`]).
pub fn test_cache_key() -> [u8; 32] {
    tessera::crypto::secrets::MasterKey::from_base64(TEST_MASTER_KEY)
        .unwrap()
        .derive(tessera::plugins::cache::MAC_LABEL)
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    /// Embedded SQLite in a temp directory.
    Sqlite,
    /// PostgreSQL (`TESSERA_TEST_POSTGRES_URL`, default the local `test` database), in a fresh
    /// database created for the test.
    Postgres,
}

/// The admin URL used to create per-test PostgreSQL databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, also the issuer.
    pub base: String,
    /// The server's state (store, keys, feature flags).
    pub state: AppState,
    /// The manual clock the server reads.
    pub clock: Arc<ManualClock>,
    /// An HTTP client.
    pub http: reqwest::Client,
    /// The settings the server started with.
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pg_db: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on `db` with default settings.
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server on `db`, letting `tweak` adjust the settings first.
    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = Settings {
            issuer: base.clone(),
            data_dir: dir.path().to_path_buf(),
            master_key: tessera::config::Secret(TEST_MASTER_KEY.into()),
            ..Settings::default()
        };
        let mut pg_db = None;
        settings.database_url.0 = match db {
            Db::Sqlite => format!("sqlite://{}/tessera.db", dir.path().display()),
            Db::Postgres => {
                let (url, name) = create_pg_database().await;
                pg_db = Some(name);
                url
            }
        };
        settings.plugins_dir = dir.path().join("plugins");
        settings.plugins.cache_dir = plugins::compiled_cache();
        tweak(&mut settings);
        settings.validate().unwrap();
        Self::launch(listener, settings, ManualClock::new(), pg_db, Some(dir)).await
    }

    /// Starts another replica of this server: a second server on the same database, with the
    /// same settings (issuer included) and clock but its own listener and state, as a second
    /// `tessera serve` behind a load balancer. Stop replicas before the server they came from.
    pub async fn replica(&self) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::launch(
            listener,
            self.settings.clone(),
            self.clock.clone(),
            None,
            None,
        )
        .await
    }

    /// [`replica`](Self::replica) with its own `settings` (e.g. another plugin directory, as on
    /// another machine); the database and clock are this server's.
    pub async fn replica_with(&self, mut settings: Settings) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        settings.database_url = self.settings.database_url.clone();
        Self::launch(listener, settings, self.clock.clone(), None, None).await
    }

    /// Starts `n` replicas at the same moment on one fresh PostgreSQL database, as a deployment
    /// starts them. The first owns the database (stop it last).
    pub async fn replicas(n: usize) -> Vec<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let (url, name) = create_pg_database().await;
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        // The issuer is the first replica's address (a load balancer's in a deployment).
        let mut settings = Settings {
            issuer: format!("http://{}", listeners[0].local_addr().unwrap()),
            data_dir: dir.path().to_path_buf(),
            master_key: tessera::config::Secret(TEST_MASTER_KEY.into()),
            ..Settings::default()
        };
        settings.database_url.0 = url;
        settings.plugins_dir = dir.path().join("plugins");
        settings.plugins.cache_dir = plugins::compiled_cache();
        settings.validate().unwrap();
        let clock = ManualClock::new();
        let mut owner = Some((name, dir));
        let starts = listeners.into_iter().map(|l| {
            let (pg_db, dir) = owner
                .take()
                .map_or((None, None), |(n, d)| (Some(n), Some(d)));
            Self::launch(l, settings.clone(), clock.clone(), pg_db, dir)
        });
        futures::future::join_all(starts).await
    }

    async fn launch(
        listener: TcpListener,
        settings: Settings,
        clock: Arc<ManualClock>,
        pg_db: Option<String>,
        dir: Option<tempfile::TempDir>,
    ) -> Self {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared: SharedClock = clock.clone();
        let state = AppState::new(settings.clone(), shared).await.unwrap();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(Server::serve_with_listener(
            state.clone(),
            listener,
            async {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            state,
            clock,
            http: reqwest::Client::new(),
            settings,
            shutdown: Some(tx),
            handle: Some(handle),
            pg_db,
            _dir: dir,
        }
    }

    /// The server's plugins directory.
    pub fn plugins_dir(&self) -> &std::path::Path {
        &self.settings.plugins_dir
    }

    /// Re-reads the plugins directory now (as a file change would) and returns the names
    /// refused.
    pub async fn reload_plugins(&self) -> Vec<String> {
        self.state.hooks().registry().reload().await
    }

    /// An absolute URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client directly (as `tessera client create` does).
    pub async fn client(&self, metadata: serde_json::Value) -> Registered {
        let m: ClientMetadata = serde_json::from_value(metadata).unwrap();
        register(
            self.state.store(),
            self.state.master_key(),
            m,
            self.state.now(),
        )
        .await
        .unwrap()
    }

    /// Creates a user (as `tessera user create` does) with password `password123` and a full
    /// set of claims; `extra` adds or overrides fields.
    pub async fn user(&self, username: &str, extra: serde_json::Value) -> tessera::model::User {
        let mut v = serde_json::json!({
            "username": username,
            "password": "password123",
            "name": format!("{username} Example"),
            "given_name": username,
            "family_name": "Example",
            "email": format!("{username}@example.com"),
            "email_verified": true,
            "phone_number": "+1 555 0100",
            "address": {"street_address": "1 Main St", "locality": "Springfield", "country": "US"},
            "locale": "en-US",
        });
        if let (Some(base), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            base.extend(extra);
        }
        tessera::admin::users::create(self.state.store(), v, self.state.now())
            .await
            .unwrap()
    }

    /// A confidential web client for the code flow with refresh tokens, redirecting to
    /// `https://rp.example/cb`; `extra` adds or overrides metadata.
    pub async fn web_client(&self, extra: serde_json::Value) -> Registered {
        let mut v = serde_json::json!({
            "client_name": "Example RP",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://rp.example/cb"],
            "scope": "openid profile email address phone offline_access",
            "token_endpoint_auth_method": "client_secret_basic",
        });
        if let (Some(base), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
            base.extend(extra);
        }
        self.client(v).await
    }

    /// A confidential `client_credentials` client using `method`, with scopes `a b c`.
    pub async fn cc_client(&self, method: &str, jwt: bool) -> Registered {
        self.client(serde_json::json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": method,
            "scope": "a b c",
            "access_token_as_jwt": jwt,
        }))
        .await
    }

    /// POSTs a form to `path` with optional Basic credentials.
    pub async fn post_form(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.unwrap()
    }

    /// Calls userinfo with `token` as a bearer token.
    pub async fn userinfo(&self, token: &str) -> reqwest::Response {
        self.http
            .get(self.url("/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GETs `path` and decodes its JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Asks for a client_credentials token authenticating with a JWT client assertion.
    pub async fn token_with_assertion(&self, assertion: &str) -> reqwest::Response {
        let form = [
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                tessera::oauth::client_auth::JWT_BEARER,
            ),
            ("client_assertion", assertion),
        ];
        self.http
            .post(self.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Gets a client_credentials access token with Basic auth.
    pub async fn token(&self, reg: &Registered, extra: &[(&str, &str)]) -> serde_json::Value {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        let resp = self
            .post_form(
                "/token",
                Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
                &form,
            )
            .await;
        assert_eq!(resp.status(), 200, "token request failed");
        resp.json().await.unwrap()
    }

    /// Gets a client_credentials access token (default scope) and returns just the token.
    pub async fn access_token(&self, reg: &Registered) -> String {
        self.token(reg, &[]).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Introspects `token` as `reg`.
    pub async fn introspect(&self, reg: &Registered, token: &str) -> serde_json::Value {
        let resp = self
            .post_form(
                "/introspect",
                Some((&reg.client.client_id, reg.secret.as_deref().unwrap())),
                &[("token", token)],
            )
            .await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Stops the server, waits for it, and drops its PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        self.state.store().close().await;
        if let Some(name) = self.pg_db.take() {
            drop_pg_database(&name).await;
        }
    }
}

async fn create_pg_database() -> (String, String) {
    use sqlx::Connection as _;
    let admin = postgres_admin_url();
    let name = format!(
        "tessera_t_{}",
        tessera::crypto::secrets::random_token(9)
            .to_ascii_lowercase()
            .replace(['-', '_'], "x")
    );
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL must be reachable at TESSERA_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    (format!("{base}/{name}"), name)
}

async fn drop_pg_database(name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Decodes a JWT's header and payload without verifying it.
pub fn jwt_parts(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine as _;
    let mut it = jwt.split('.');
    let dec = |s: &str| {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap(),
        )
        .unwrap()
    };
    (dec(it.next().unwrap()), dec(it.next().unwrap()))
}

/// The `WWW-Authenticate` challenge of a response (panics when there is none).
pub fn challenge(resp: &reqwest::Response) -> &str {
    resp.headers()["www-authenticate"].to_str().unwrap()
}

/// Generates both backends' variants of an async test body `fn(Db)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::Db::Postgres).await })*
        }
    };
}

/// An ES256 key pair a test client signs its assertions with (`private_key_jwt`).
pub struct EcKey {
    /// The private key, PKCS#8 DER.
    pub pkcs8: Vec<u8>,
    /// The public JWK (with its `kid`).
    pub jwk: serde_json::Value,
}

impl EcKey {
    /// A fresh key.
    pub fn generate() -> Self {
        let g = tessera::crypto::keys::generate(tessera::crypto::SigningAlg::Es256).unwrap();
        Self {
            pkcs8: g.pkcs8,
            jwk: g.public_jwk,
        }
    }

    /// A client assertion for `client_id` with audience `aud`, valid for a minute from `now`.
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = self.jwk["kid"].as_str().map(str::to_string);
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": aud, "exp": now + 60,
            "jti": tessera::crypto::secrets::random_token(8),
        });
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .unwrap()
    }
}

/// What a DPoP proof (RFC 9449 §4.2) says; `Default` gives a fresh `jti` and no `ath`/`nonce`.
#[derive(Debug, Clone)]
pub struct ProofClaims<'a> {
    /// `htm`.
    pub htm: &'a str,
    /// `htu`.
    pub htu: String,
    /// `iat`.
    pub iat: i64,
    /// The access token whose hash is `ath`.
    pub access_token: Option<&'a str>,
    /// `nonce`.
    pub nonce: Option<&'a str>,
    /// `jti`.
    pub jti: String,
}

impl<'a> ProofClaims<'a> {
    /// A proof for `htm` `htu` at `iat`.
    pub fn new(htm: &'a str, htu: String, iat: i64) -> Self {
        Self {
            htm,
            htu,
            iat,
            access_token: None,
            nonce: None,
            jti: tessera::crypto::secrets::random_token(12),
        }
    }
}

impl EcKey {
    /// A DPoP proof signed with this key, its public JWK in the header.
    pub fn dpop_proof(&self, c: &ProofClaims<'_>) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.typ = Some("dpop+jwt".into());
        h.jwk = Some(serde_json::from_value(self.jwk.clone()).unwrap());
        let mut claims =
            serde_json::json!({"jti": c.jti, "htm": c.htm, "htu": c.htu, "iat": c.iat});
        if let Some(t) = c.access_token {
            claims["ath"] = tessera::crypto::secrets::sha256_b64(t.as_bytes()).into();
        }
        if let Some(n) = c.nonce {
            claims["nonce"] = n.into();
        }
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8),
        )
        .unwrap()
    }

    /// The key's RFC 7638 SHA-256 thumbprint (`cnf.jkt`), computed here from the RFC's
    /// canonical form (required members in lexicographic order, no whitespace).
    pub fn thumbprint(&self) -> String {
        let j = &self.jwk;
        let canonical = format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            j["crv"].as_str().unwrap(),
            j["x"].as_str().unwrap(),
            j["y"].as_str().unwrap()
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            digest.as_ref(),
        )
    }
}

/// The OAuth `error` of a JSON error response, after checking its status.
pub async fn oauth_error(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status(), status);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_string()
}

/// A PKCS#8 DER private key as PEM (for `jose.importPKCS8` in the npm tests).
pub fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// Resident set size of this process, in bytes.
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
