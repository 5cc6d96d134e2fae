//! The hooks facade: one typed async method per hook. Endpoint code calls e.g.
//! `state.hooks().update_token(input).await?`; the facade picks the plugins bound to the call
//! (in priority order, from one snapshot of the registry), runs each in a fresh sandboxed
//! instance, validates what it answers, and applies the plugin's `on_error` policy to failures.

use super::bindings::{self, types};
use super::engine::Called;
use super::manifest::{HookKind, OnError};
use super::registry::{LoadedPlugin, Registry};
use crate::clock::SharedClock;
use crate::model::{Client, Grant, TokenRecord};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A plugin failed and its policy is `fail-closed`: the endpoint answers `server_error`.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} {version} ({hook}) failed: {message}")]
pub struct HookError {
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// The hook.
    pub hook: HookKind,
    /// What went wrong.
    pub message: String,
}

pub use crate::model::user::PROTECTED_CLAIMS;

/// Who and what a dynamic-scope call is about (the same for every dynamic scope of one
/// response).
pub struct ScopeClaims<'a> {
    /// The `sub` as the client sees it.
    pub sub: &'a str,
    /// The user's attributes.
    pub user: &'a Map<String, Value>,
    /// The client receiving the claims.
    pub client: &'a Client,
    /// Every granted scope.
    pub granted_scopes: &'a [String],
    /// ID token or userinfo.
    pub target: bindings::dynamic_scope::Target,
    /// How the user authenticated, for grants from a sign-in.
    pub authentication: Option<types::Authentication>,
}

/// The typed entry point to every hook.
#[derive(Clone)]
pub struct Hooks {
    registry: Arc<Registry>,
    clock: SharedClock,
    metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("dir", &self.registry.dir())
            .finish()
    }
}

/// What `update_token` works on: a token about to be signed (or stored).
pub struct TokenDraft<'a> {
    /// Access token or ID token.
    pub kind: types::TokenKind,
    /// The client it is issued to.
    pub client: &'a Client,
    /// Its grant.
    pub grant: &'a Grant,
    /// Its claims so far.
    pub claims: Map<String, Value>,
    /// Its lifetime in seconds.
    pub lifetime: i64,
}

/// A revocation's outcome after the revoke-token plugins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeDecision {
    /// Revoke.
    Allow,
    /// Answer 200, revoke nothing.
    Skip,
    /// Answer this OAuth error, revoke nothing.
    Deny {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
}

impl Hooks {
    /// The facade over `registry`; host `now()` reads `clock`.
    pub fn new(registry: Arc<Registry>, clock: SharedClock) -> Self {
        Self {
            registry,
            clock,
            metrics: Arc::default(),
        }
    }

    /// Counts calls, failures and latency per plugin in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The registry behind the facade.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn bound(&self, hook: HookKind, client: &Client) -> Vec<Arc<LoadedPlugin>> {
        self.registry
            .current()
            .for_hook(hook)
            .iter()
            .filter(|p| {
                p.manifest
                    .applies_to(&client.client_id, &client.metadata.scripts)
            })
            .cloned()
            .collect()
    }

    /// Counts the call; turns a failure (of the call or of validating its answer) into the
    /// plugin's policy: `Err` for fail-closed, `Ok(None)` (skip its effect) for fail-open.
    fn settle<R>(
        &self,
        plugin: &LoadedPlugin,
        outcome: Result<R, String>,
        started: std::time::Instant,
    ) -> Result<Option<R>, HookError> {
        let took = started.elapsed();
        plugin
            .counters
            .record(took, outcome.as_ref().err().map(String::as_str));
        self.metrics.plugin_call(
            &plugin.manifest.name,
            &plugin.manifest.hook.to_string(),
            outcome.is_ok(),
            took,
        );
        match outcome {
            Ok(r) => Ok(Some(r)),
            Err(message) => {
                let m = &plugin.manifest;
                tracing::warn!(
                    plugin = m.name.as_str(),
                    version = m.version.as_str(),
                    hook = %m.hook,
                    on_error = ?m.on_error,
                    error = message.as_str(),
                    "plugin call failed"
                );
                match m.on_error {
                    OnError::FailOpen => Ok(None),
                    OnError::FailClosed => Err(HookError {
                        plugin: m.name.clone(),
                        version: m.version.clone(),
                        hook: m.hook,
                        message,
                    }),
                }
            }
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Calls `live` with `call`, then its canary in shadow ([`Self::shadow`]); returns the
    /// live answer and when the call started.
    async fn call_live<T, F, Fut>(
        &self,
        live: &Arc<LoadedPlugin>,
        call: F,
    ) -> (Result<T, String>, std::time::Instant)
    where
        T: Clone + PartialEq + serde::Serialize + Send + 'static,
        F: Fn(Arc<LoadedPlugin>) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let checked = call(live.clone()).await;
        self.shadow(live, &checked, call);
        (checked, started)
    }

    /// When `live` has a canary and this call is sampled, runs `call` on the canary off the
    /// request path and records how its answer compares with `live_out`. The canary's answer
    /// is never used.
    fn shadow<T, F, Fut>(&self, live: &LoadedPlugin, live_out: &Result<T, String>, call: F)
    where
        T: Clone + PartialEq + serde::Serialize + Send + 'static,
        F: FnOnce(Arc<LoadedPlugin>) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
    {
        let Some(canary) = self.registry.canary(&live.manifest.name) else {
            return;
        };
        if !canary.sampled() {
            return;
        }
        let run = call(canary.plugin.clone());
        let live_out = live_out.clone();
        let clock = self.clock.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let out = run.await;
            canary
                .plugin
                .counters
                .record(started.elapsed(), out.as_ref().err().map(String::as_str));
            canary.record(&live_out, &out, clock.now());
        });
    }

    /// update-token: lets the plugins bound to the client change the claims and shorten the
    /// lifetime of a token before it is signed. With no plugin bound it returns `draft` as is.
    pub async fn update_token(
        &self,
        mut draft: TokenDraft<'_>,
    ) -> Result<(Map<String, Value>, i64), HookError> {
        let plugins = self.bound(HookKind::UpdateToken, draft.client);
        if plugins.is_empty() {
            return Ok((draft.claims, draft.lifetime));
        }
        let client = types::Client::from_model(draft.client);
        let grant = types::Grant::from_model(draft.grant);
        for p in plugins {
            let ctx = Arc::new(bindings::update_token::Context {
                kind: draft.kind,
                client: client.clone(),
                grant: grant.clone(),
                claims: Value::Object(draft.claims.clone()).to_string(),
                lifetime: u32::try_from(draft.lifetime.max(0)).unwrap_or(u32::MAX),
            });
            let now = self.now();
            let call = move |p: Arc<LoadedPlugin>| {
                let ctx = ctx.clone();
                async move {
                    let Called { result, .. } = p
                        .prepared
                        .update_token(p.identity.clone(), p.manifest.limits, now, &ctx)
                        .await;
                    check_update(&p, result)
                }
            };
            let (checked, started) = self.call_live(&p, call).await;
            if let Some((set, remove, lifetime)) = self.settle(&p, checked, started)? {
                for k in remove {
                    draft.claims.remove(&k);
                }
                draft.claims.extend(set);
                if let Some(l) = lifetime {
                    draft.lifetime = draft.lifetime.min(i64::from(l));
                }
            }
        }
        Ok((draft.claims, draft.lifetime))
    }

    /// revoke-token: the first plugin (bound to the calling client) that does not answer
    /// `allow` decides. With no plugin bound, `Allow`.
    pub async fn revoke_token(
        &self,
        caller: &Client,
        token: &TokenRecord,
        grant: &Grant,
    ) -> Result<RevokeDecision, HookError> {
        let plugins = self.bound(HookKind::RevokeToken, caller);
        if plugins.is_empty() {
            return Ok(RevokeDecision::Allow);
        }
        let ctx = bindings::revoke_token::Context {
            caller: types::Client::from_model(caller),
            token: types::Token::from_model(token),
            grant: types::Grant::from_model(grant),
        };
        let ctx = Arc::new(ctx);
        for p in plugins {
            let now = self.now();
            let ctx = ctx.clone();
            let call = move |p: Arc<LoadedPlugin>| {
                let ctx = ctx.clone();
                async move {
                    let Called { result, .. } = p
                        .prepared
                        .revoke_token(p.identity.clone(), p.manifest.limits, now, &ctx)
                        .await;
                    check_revoke(&p, result)
                }
            };
            let (checked, started) = self.call_live(&p, call).await;
            match self.settle(&p, checked, started)? {
                Some(RevokeDecision::Allow) | None => {}
                Some(other) => return Ok(other),
            }
        }
        Ok(RevokeDecision::Allow)
    }

    /// dynamic-scope: the claims the plugins serving `scope` add, merged in order (an earlier
    /// plugin's claim wins). The caller adds them without replacing claims it already set.
    pub async fn dynamic_scope(
        &self,
        scope: &str,
        about: &ScopeClaims<'_>,
    ) -> Result<Map<String, Value>, HookError> {
        let ScopeClaims {
            sub,
            user,
            client,
            granted_scopes,
            target,
            authentication,
        } = about;
        let plugins: Vec<_> = self
            .bound(HookKind::DynamicScope, client)
            .into_iter()
            .filter(|p| p.manifest.bindings.scopes.iter().any(|s| s == scope))
            .collect();
        let mut out = Map::new();
        if plugins.is_empty() {
            return Ok(out);
        }
        let ctx = bindings::dynamic_scope::Context {
            scope: scope.to_string(),
            sub: sub.to_string(),
            user: Value::Object((*user).clone()).to_string(),
            client: types::Client::from_model(client),
            granted_scopes: granted_scopes.to_vec(),
            target: *target,
            authentication: authentication.clone(),
        };
        let ctx = Arc::new(ctx);
        for p in plugins {
            let now = self.now();
            let ctx = ctx.clone();
            let call = move |p: Arc<LoadedPlugin>| {
                let ctx = ctx.clone();
                async move {
                    let Called { result, .. } = p
                        .prepared
                        .dynamic_scope(p.identity.clone(), p.manifest.limits, now, &ctx)
                        .await;
                    check_claims(&p, result)
                }
            };
            let (checked, started) = self.call_live(&p, call).await;
            if let Some(claims) = self.settle(&p, checked, started)? {
                for (k, v) in claims {
                    out.entry(k).or_insert(v);
                }
            }
        }
        Ok(out)
    }

    /// introspection: each plugin bound to the introspected token's client (every introspection
    /// plugin when `every_plugin`, Janssen's `introspectionScriptBackwardCompatibility`) sees the
    /// response so far and may replace it or report the token inactive. `active`, `iss`,
    /// `client_id` and `exp` stay the server's. An inactive response is answered as is, without
    /// calling plugins: it stays `{"active": false}` whatever they would say (RFC 7662 §2.2).
    pub async fn introspection(
        &self,
        caller: &Client,
        token: Option<Introspected<'_>>,
        every_plugin: bool,
        response: Map<String, Value>,
    ) -> Result<Map<String, Value>, HookError> {
        let active = response.get("active") == Some(&Value::Bool(true));
        let Some(token) = token.filter(|_| active) else {
            return Ok(inactive());
        };
        let plugins = if every_plugin {
            self.registry
                .current()
                .for_hook(HookKind::Introspection)
                .to_vec()
        } else {
            self.bound(HookKind::Introspection, token.client)
        };
        if plugins.is_empty() {
            return Ok(response);
        }
        let kept: Vec<(&str, Value)> = HOST_INTROSPECTION_MEMBERS
            .iter()
            .filter_map(|k| response.get(*k).map(|v| (*k, v.clone())))
            .collect();
        let mut current = response;
        let caller_view = types::Client::from_model(caller);
        let token_view = types::Token::from_model(token.token);
        let grant_view = types::Grant::from_model(token.grant);
        for p in plugins {
            let ctx = Arc::new(bindings::introspection::Context {
                caller: caller_view.clone(),
                token: Some(token_view.clone()),
                token_grant: Some(grant_view.clone()),
                response: Value::Object(current.clone()).to_string(),
            });
            let now = self.now();
            let call = move |p: Arc<LoadedPlugin>| {
                let ctx = ctx.clone();
                async move {
                    let Called { result, .. } = p
                        .prepared
                        .introspection(p.identity.clone(), p.manifest.limits, now, &ctx)
                        .await;
                    check_introspection(&p, result)
                }
            };
            let (checked, started) = self.call_live(&p, call).await;
            match self.settle(&p, checked, started)? {
                None | Some(None) => {}
                Some(Some(None)) => return Ok(inactive()),
                Some(Some(Some(mut replaced))) => {
                    for k in HOST_INTROSPECTION_MEMBERS {
                        replaced.remove(*k);
                    }
                    replaced.extend(kept.iter().map(|(k, v)| (k.to_string(), v.clone())));
                    current = replaced;
                }
            }
        }
        Ok(current)
    }

    /// end-session: the first plugin (global, or bound to one of the RPs being logged out)
    /// that returns a page wins; `None` means the server's default page.
    pub async fn end_session(
        &self,
        ctx: &bindings::end_session::Context,
        rp_clients: &[Client],
    ) -> Result<Option<String>, HookError> {
        let set = self.registry.current();
        let plugins: Vec<_> = set
            .for_hook(HookKind::EndSession)
            .iter()
            .filter(|p| {
                p.manifest.bindings.is_global()
                    || rp_clients
                        .iter()
                        .any(|c| p.manifest.applies_to(&c.client_id, &c.metadata.scripts))
            })
            .cloned()
            .collect();
        let ctx = Arc::new(ctx.clone());
        for p in plugins {
            let now = self.now();
            let ctx = ctx.clone();
            let call = move |p: Arc<LoadedPlugin>| {
                let ctx = ctx.clone();
                async move {
                    let Called { result, .. } = p
                        .prepared
                        .end_session(p.identity.clone(), p.manifest.limits, now, &ctx)
                        .await;
                    check_page(&p, result)
                }
            };
            let (checked, started) = self.call_live(&p, call).await;
            if let Some(Some(html)) = self.settle(&p, checked, started)? {
                return Ok(Some(html));
            }
        }
        Ok(None)
    }
}

/// An update-token answer, checked: claims to set, claims to remove, a shorter lifetime.
type TokenUpdate = (Map<String, Value>, Vec<String>, Option<u32>);

/// A call's raw result as the host reads it.
type Raw<R> = Result<Result<R, String>, String>;

/// update-token's answer: claims to set, claims to remove, a shorter lifetime.
fn check_update(
    p: &LoadedPlugin,
    result: Raw<bindings::update_token::Update>,
) -> Result<TokenUpdate, String> {
    flatten(result).and_then(|u| {
        let size = u.set_claims.as_ref().map_or(0, String::len)
            + u.remove_claims.iter().map(String::len).sum::<usize>();
        within(size, p.manifest.limits.max_result_bytes)?;
        let set = match &u.set_claims {
            Some(text) => json_object(text, "set-claims")?,
            None => Map::new(),
        };
        if let Some(k) = set
            .keys()
            .chain(u.remove_claims.iter())
            .find(|k| PROTECTED_CLAIMS.contains(&k.as_str()))
        {
            return Err(format!("invalid result: the claim {k:?} is protected"));
        }
        Ok((set, u.remove_claims, u.lifetime))
    })
}

/// revoke-token's decision.
fn check_revoke(
    p: &LoadedPlugin,
    result: Raw<bindings::revoke_token::Decision>,
) -> Result<RevokeDecision, String> {
    flatten(result).and_then(|d| {
        use bindings::revoke_token::Decision;
        Ok(match d {
            Decision::Allow => RevokeDecision::Allow,
            Decision::Skip => RevokeDecision::Skip,
            Decision::Deny(e) => {
                within(
                    e.error.len() + e.description.as_ref().map_or(0, String::len),
                    p.manifest.limits.max_result_bytes,
                )?;
                if !is_error_code(&e.error) {
                    return Err(format!(
                        "invalid result: {:?} is not an OAuth error code",
                        e.error
                    ));
                }
                RevokeDecision::Deny {
                    error: e.error,
                    description: e.description,
                }
            }
        })
    })
}

/// dynamic-scope's claims.
fn check_claims(p: &LoadedPlugin, result: Raw<String>) -> Result<Map<String, Value>, String> {
    flatten(result).and_then(|text| {
        within(text.len(), p.manifest.limits.max_result_bytes)?;
        let claims = json_object(&text, "claims")?;
        if let Some(k) = claims
            .keys()
            .find(|k| PROTECTED_CLAIMS.contains(&k.as_str()))
        {
            return Err(format!("invalid result: the claim {k:?} is protected"));
        }
        Ok(claims)
    })
}

/// introspection's outcome: `None` unchanged, `Some(None)` inactive, `Some(Some(m))` replaced.
fn check_introspection(
    p: &LoadedPlugin,
    result: Raw<bindings::introspection::Outcome>,
) -> Result<Option<Option<Map<String, Value>>>, String> {
    flatten(result).and_then(|o| {
        use bindings::introspection::Outcome;
        Ok(match o {
            Outcome::Unchanged => None,
            Outcome::Inactive => Some(None),
            Outcome::Replace(text) => {
                within(text.len(), p.manifest.limits.max_result_bytes)?;
                Some(Some(json_object(&text, "replace")?))
            }
        })
    })
}

/// end-session's page, if it made one.
fn check_page(p: &LoadedPlugin, result: Raw<Option<String>>) -> Result<Option<String>, String> {
    flatten(result).and_then(|html| {
        within(
            html.as_ref().map_or(0, String::len),
            p.manifest.limits.max_result_bytes,
        )?;
        Ok(html.filter(|h| !h.trim().is_empty()))
    })
}

/// Introspection response members plugins cannot change (issue 10): whether the token is
/// active, who issued it, to whom, until when.
const HOST_INTROSPECTION_MEMBERS: &[&str] = &["active", "iss", "client_id", "exp"];

/// The token an introspection is about: the record, its grant and the client it was issued to
/// (whose bindings select the plugins).
#[derive(Clone, Copy)]
pub struct Introspected<'a> {
    /// The token.
    pub token: &'a TokenRecord,
    /// Its grant.
    pub grant: &'a Grant,
    /// The client it was issued to.
    pub client: &'a Client,
}

fn inactive() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("active".into(), Value::Bool(false));
    m
}

/// A call's outcome and the plugin's own `err` as one `Result`.
fn flatten<R>(r: Result<Result<R, String>, String>) -> Result<R, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("the plugin answered err: {e}")),
        Err(e) => Err(e),
    }
}

fn within(size: usize, cap: usize) -> Result<(), String> {
    if size > cap {
        Err(format!(
            "oversize result: {size} bytes, the cap is {cap} bytes"
        ))
    } else {
        Ok(())
    }
}

fn json_object(text: &str, what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("invalid result: {what} is not a JSON object")),
        Err(e) => Err(format!("invalid result: {what} is not JSON: {e}")),
    }
}

/// RFC 6749 error codes are `%x20-21 / %x23-5B / %x5D-7E`; we also require non-empty and short.
fn is_error_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}
