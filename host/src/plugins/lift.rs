//! Bounded lifting of hook results. The generated bindings copy every string a plugin returns
//! into the host before anyone can look at its size, so a plugin could make the host copy as
//! much as its memory cap allows, whatever `max_result_bytes` says. Here results are lifted as
//! views into the guest's memory ([`WasmStr`], [`WasmList`]) and copied one string at a time
//! while a meter counts the bytes: the copy stops (with "oversize result") at the plugin's
//! `max_result_bytes`, so the host never copies more than that.
//!
//! The raw types mirror `wit/` exactly (wasmtime checks them against the component's types at
//! each call) and convert into the generated binding types the rest of the host uses.

use super::bindings::{introspection, revoke_token, types, update_token};
use wasmtime::AsContextMut;
use wasmtime::component::{ComponentType, Lift, WasmList, WasmStr};

/// `update-token`'s `update`.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawUpdate {
    #[component(name = "set-claims")]
    set_claims: Option<WasmStr>,
    #[component(name = "remove-claims")]
    remove_claims: WasmList<WasmStr>,
    lifetime: Option<u32>,
}

/// `types.oauth-error`.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawOAuthError {
    error: WasmStr,
    description: Option<WasmStr>,
}

/// `revoke-token`'s `decision`.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum RawDecision {
    #[component(name = "allow")]
    Allow,
    #[component(name = "skip")]
    Skip,
    #[component(name = "deny")]
    Deny(RawOAuthError),
}

/// `introspection`'s `outcome`.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum RawOutcome {
    #[component(name = "unchanged")]
    Unchanged,
    #[component(name = "replace")]
    Replace(WasmStr),
    #[component(name = "inactive")]
    Inactive,
}

/// Copies strings out of a guest while counting them against a cap.
struct Meter {
    used: usize,
    cap: usize,
}

impl Meter {
    fn new(cap: usize) -> Self {
        Self { used: 0, cap }
    }

    /// Copies `s` if the total stays within the cap. A UTF-8 string is measured in place
    /// (borrowed from the guest's memory) before anything is copied.
    fn take<T: 'static>(
        &mut self,
        store: &mut impl AsContextMut<Data = T>,
        s: &WasmStr,
    ) -> wasmtime::Result<String> {
        let store = store.as_context_mut();
        let text = s.to_str(&store)?;
        self.used = self.used.saturating_add(text.len());
        if self.used > self.cap {
            wasmtime::bail!(
                "oversize result: more than {} bytes, the cap is {} bytes",
                self.cap,
                self.cap
            );
        }
        Ok(text.into_owned())
    }

    fn take_opt<T: 'static>(
        &mut self,
        store: &mut impl AsContextMut<Data = T>,
        s: &Option<WasmStr>,
    ) -> wasmtime::Result<Option<String>> {
        s.as_ref().map(|s| self.take(store, s)).transpose()
    }

    /// The `err` arm of a hook's `result`.
    fn err<T: 'static, R>(
        &mut self,
        store: &mut impl AsContextMut<Data = T>,
        e: &WasmStr,
    ) -> wasmtime::Result<Result<R, String>> {
        Ok(Err(self.take(store, e)?))
    }
}

/// update-token's answer.
pub fn update<T: 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: Result<RawUpdate, WasmStr>,
    cap: usize,
) -> wasmtime::Result<Result<update_token::Update, String>> {
    let mut m = Meter::new(cap);
    let u = match raw {
        Ok(u) => u,
        Err(e) => return m.err(store, &e),
    };
    let set_claims = m.take_opt(store, &u.set_claims)?;
    // Each element costs at least its slot, so a list of a million empty strings is bounded too.
    m.used = m.used.saturating_add(u.remove_claims.len());
    let mut remove_claims = Vec::new();
    let items: Vec<WasmStr> = u
        .remove_claims
        .iter(store.as_context_mut())?
        .collect::<wasmtime::Result<_>>()?;
    for s in &items {
        remove_claims.push(m.take(store, s)?);
    }
    Ok(Ok(update_token::Update {
        set_claims,
        remove_claims,
        lifetime: u.lifetime,
    }))
}

/// revoke-token's answer.
pub fn decision<T: 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: Result<RawDecision, WasmStr>,
    cap: usize,
) -> wasmtime::Result<Result<revoke_token::Decision, String>> {
    let mut m = Meter::new(cap);
    Ok(Ok(match raw {
        Err(e) => return m.err(store, &e),
        Ok(RawDecision::Allow) => revoke_token::Decision::Allow,
        Ok(RawDecision::Skip) => revoke_token::Decision::Skip,
        Ok(RawDecision::Deny(e)) => revoke_token::Decision::Deny(types::OauthError {
            error: m.take(store, &e.error)?,
            description: m.take_opt(store, &e.description)?,
        }),
    }))
}

/// dynamic-scope's answer (a JSON object as text).
pub fn json_text<T: 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: Result<WasmStr, WasmStr>,
    cap: usize,
) -> wasmtime::Result<Result<String, String>> {
    let mut m = Meter::new(cap);
    match raw {
        Ok(s) => Ok(Ok(m.take(store, &s)?)),
        Err(e) => m.err(store, &e),
    }
}

/// introspection's answer.
pub fn outcome<T: 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: Result<RawOutcome, WasmStr>,
    cap: usize,
) -> wasmtime::Result<Result<introspection::Outcome, String>> {
    let mut m = Meter::new(cap);
    Ok(Ok(match raw {
        Err(e) => return m.err(store, &e),
        Ok(RawOutcome::Unchanged) => introspection::Outcome::Unchanged,
        Ok(RawOutcome::Inactive) => introspection::Outcome::Inactive,
        Ok(RawOutcome::Replace(s)) => introspection::Outcome::Replace(m.take(store, &s)?),
    }))
}

/// end-session's answer (an optional HTML page).
pub fn page<T: 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: Result<Option<WasmStr>, WasmStr>,
    cap: usize,
) -> wasmtime::Result<Result<Option<String>, String>> {
    let mut m = Meter::new(cap);
    match raw {
        Ok(s) => Ok(Ok(m.take_opt(store, &s)?)),
        Err(e) => m.err(store, &e),
    }
}
