//! Sessions (seed 001 "Sessions"): list the active ones, end one or all of a user's. Ending goes
//! through [`crate::oauth::logout::end`], so tokens are revoked and back-channel RPs told exactly
//! as for a user's own logout.

use crate::oauth::logout;
use crate::server::AppState;
use anyhow::Context as _;
use serde_json::Value;

/// Active sessions, of the user with login name `username` when given.
pub async fn list(state: &AppState, username: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let user_id = match username {
        Some(name) => Some(user_id(state, name).await?),
        None => None,
    };
    Ok(logout::sessions_json(state, user_id.as_deref(), None).await?)
}

/// Ends the session `sid`, or every session of the user `username`; returns how many ended.
pub async fn revoke(
    state: &AppState,
    sid: Option<&str>,
    username: Option<&str>,
) -> anyhow::Result<usize> {
    match (sid, username) {
        (Some(sid), None) => {
            let Some(s) = state.store().find_session(sid).await? else {
                anyhow::bail!("no session {sid}");
            };
            Ok(usize::from(logout::end(state, &s, None).await?.is_some()))
        }
        (None, Some(name)) => {
            let id = user_id(state, name).await?;
            Ok(logout::end_user_sessions(state, &id).await?)
        }
        _ => anyhow::bail!("name a session or a user, not both"),
    }
}

async fn user_id(state: &AppState, username: &str) -> anyhow::Result<String> {
    Ok(state
        .store()
        .find_user_by_username(username)
        .await?
        .with_context(|| format!("no user {username}"))?
        .user_id)
}
