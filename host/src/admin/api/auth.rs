//! Who may call the admin API: a bearer access token issued by this server, checked locally
//! (active, not revoked, its client usable), carrying the resource's scope. Each resource has a
//! read and a write scope (`tessera.admin.clients.read`, `tessera.admin.clients.write`, ...); a
//! write scope also reads; [`ALL`] grants everything. No token: 401 with a bare challenge; a bad
//! one: 401 `invalid_token`; the wrong scope: 403 `insufficient_scope` naming the scopes that
//! would do (RFC 6750 §3).

use super::problem::Problem;
use crate::model::scope::contains;
use crate::oauth::bearer::{self, BearerError};
use crate::server::AppState;
use axum::http::{HeaderMap, StatusCode};

/// The scope that grants every admin API call.
pub const ALL: &str = "tessera.admin";

/// The challenge's realm.
const REALM: &str = "tessera-admin";

/// A resource of the admin API, with its own pair of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Clients.
    Clients,
    /// Scopes.
    Scopes,
    /// Signing keys.
    Keys,
    /// Browser sessions.
    Sessions,
    /// The run-time configuration (server properties, feature flags, logging).
    Config,
    /// The audit log (read only).
    Audit,
    /// Wasm plugin deployment.
    Plugins,
    /// End-users and administrators.
    Users,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Resource; 8] = [
        Resource::Clients,
        Resource::Scopes,
        Resource::Keys,
        Resource::Sessions,
        Resource::Config,
        Resource::Audit,
        Resource::Plugins,
        Resource::Users,
    ];

    /// The resource's name in scopes and in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Clients => "clients",
            Resource::Scopes => "scopes",
            Resource::Keys => "keys",
            Resource::Sessions => "sessions",
            Resource::Config => "config",
            Resource::Audit => "audit",
            Resource::Plugins => "plugins",
            Resource::Users => "users",
        }
    }

    /// The resource's read scope.
    pub fn read_scope(self) -> String {
        format!("{ALL}.{}.read", self.name())
    }

    /// Whether nothing can change it through the API (the audit log).
    pub fn read_only(self) -> bool {
        self == Resource::Audit
    }

    /// The resource's write scope (which also reads).
    pub fn write_scope(self) -> String {
        format!("{ALL}.{}.write", self.name())
    }
}

/// What a call does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads.
    Read,
    /// Changes.
    Write,
}

/// Every admin scope: [`ALL`] and each resource's read and (unless read-only) write scope.
pub fn all_scopes() -> Vec<String> {
    std::iter::once(ALL.to_string())
        .chain(Resource::ALL.iter().flat_map(|r| {
            std::iter::once(r.read_scope()).chain((!r.read_only()).then(|| r.write_scope()))
        }))
        .collect()
}

/// The authenticated caller of an admin API request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client the token was issued to.
    pub client_id: String,
    /// The id of the user the token was issued for, when one was (an active administrator).
    pub subject: Option<String>,
}

/// Checks that `headers` carry a valid bearer token with a scope allowing `access` to
/// `resource`.
pub async fn require(
    state: &AppState,
    headers: &HeaderMap,
    resource: Resource,
    access: Access,
) -> Result<Caller, Problem> {
    let token = bearer::from_header(headers)
        .map_err(refusal)?
        .ok_or_else(|| refusal(BearerError::Missing))?;
    let record = bearer::active_access_token(state, &token)
        .await
        .map_err(refusal)?;
    let write = resource.write_scope();
    let read = resource.read_scope();
    let allowed = contains(&record.scope, ALL)
        || contains(&record.scope, &write)
        || (access == Access::Read && contains(&record.scope, &read));
    if !allowed {
        let needed = match access {
            Access::Read => format!("{read} {write} {ALL}"),
            Access::Write => format!("{write} {ALL}"),
        };
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("the access token lacks one of the scopes {needed}"),
        )
        .with_challenge(format!(
            "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{needed}\""
        )));
    }
    let client = bearer::client_of(state, &record).await.map_err(refusal)?;
    // A token issued for a user (the admin UI's) acts for that user: only while the user is an
    // active administrator, checked on every call so that removing the role takes effect at once.
    let user_id = match state.store().find_grant(&record.grant_id).await? {
        Some((grant, _)) => grant.user_id,
        None => return Err(refusal(BearerError::InvalidToken("no grant"))),
    };
    if let Some(uid) = &user_id {
        let admin = state
            .store()
            .find_user(uid)
            .await?
            .is_some_and(|u| u.is_admin());
        if !admin {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "the user the access token was issued for is not an active administrator",
            )
            .with_challenge(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\""
            )));
        }
    }
    Ok(Caller {
        client_id: client.client_id.clone(),
        subject: user_id,
    })
}

/// The problem for a refused token.
fn refusal(e: BearerError) -> Problem {
    match e {
        BearerError::Missing => Problem::new(
            StatusCode::UNAUTHORIZED,
            "an access token with an admin scope is required",
        )
        .with_challenge(format!("Bearer realm=\"{REALM}\"")),
        BearerError::InvalidRequest(d) => Problem::bad_request(d)
            .with_challenge(format!("Bearer realm=\"{REALM}\", error=\"invalid_request\"")),
        BearerError::OAuth(e) => Problem::internal(&e),
        _ => Problem::new(StatusCode::UNAUTHORIZED, "the access token is invalid")
            .with_challenge(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"the access token is invalid\""
            )),
    }
}
