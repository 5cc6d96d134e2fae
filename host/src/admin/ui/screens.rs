//! Seed 001's Sessions, Server configuration, Keys, Logging and Enabled ACRs screens.

use super::{Api, Form, Notice, Posted, Session, failed, screen};
use crate::admin::config::{pointer, typed};
use crate::admin::path_segment;
use crate::server::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::{get, post};
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sessions", get(sessions).post(end_user_sessions))
        .route("/admin/sessions/{sid}/end", post(end_session))
        .route("/admin/config", get(config).post(change_property))
        .route("/admin/config/features", post(switch_feature))
        .route("/admin/keys", get(keys))
        .route("/admin/keys/rotate", post(rotate_keys))
        .route("/admin/keys/{kid}/retire", post(retire_key))
        .route("/admin/logging", get(logging).post(change_logging))
        .route("/admin/acrs", get(acrs).post(change_acrs))
}

#[derive(Debug, Default, Deserialize)]
struct UserFilter {
    user: Option<String>,
}

/// `GET /admin/sessions[?user=NAME]`.
async fn sessions(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<UserFilter>,
) -> Response {
    render_sessions(&state, &session, f.user.as_deref(), Notice::default()).await
}

async fn render_sessions(
    state: &AppState,
    session: &Session,
    user: Option<&str>,
    notice: Notice,
) -> Response {
    let user = user.map(str::trim).filter(|u| !u.is_empty());
    let path = match user {
        Some(u) => format!("/sessions?limit=500&user={}", path_segment(u)),
        None => "/sessions?limit=500".into(),
    };
    let list = Api::new(state, session).get(&path).await;
    let (items, notice) = if list.ok() {
        (list.body["items"].clone(), notice)
    } else if notice.error.is_none() {
        (json!([]), Notice::error(list.problem()))
    } else {
        (json!([]), notice)
    };
    screen(
        session,
        "admin/sessions.html",
        "Sessions",
        "sessions",
        notice,
        context! { sessions => items, filter => user.unwrap_or("") },
    )
}

/// `POST /admin/sessions`: ends every session of a user.
async fn end_user_sessions(
    State(state): State<AppState>,

    Posted { session, form }: Posted,
) -> Response {
    let user = form.text("user");
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/sessions?user={}", path_segment(user)),
            None,
            None,
        )
        .await;
    let notice = Notice::of(
        &reply,
        format!(
            "Ended {} session(s) of {user}.",
            reply.body["ended"].as_u64().unwrap_or(0)
        ),
    );
    render_sessions(&state, &session, Some(user), notice).await
}

/// `POST /admin/sessions/{sid}/end`.
async fn end_session(
    State(state): State<AppState>,

    Path(sid): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/sessions/{}", path_segment(&sid)),
            None,
            None,
        )
        .await;
    let notice = Notice::of(&reply, "Session ended.");
    render_sessions(&state, &session, Some(form.text("user")), notice).await
}

/// One property of the configuration as the table shows it.
fn properties(settings: &Value, start_up: &[Value]) -> Vec<Value> {
    crate::admin::config::flatten(settings)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("features."))
        .map(|(key, value)| {
            let reason = start_up.iter().find_map(|s| {
                let k = s["key"].as_str()?;
                (key == k || key.starts_with(&format!("{k}."))).then(|| s["reason"].clone())
            });
            let janssen = crate::config::JANSSEN_NAMES
                .iter()
                .find(|(_, k)| *k == key)
                .map(|(j, _)| *j);
            json!({"key": key, "value": value.to_string(), "start_up": reason, "janssen": janssen})
        })
        .collect()
}

/// `GET /admin/config`.
async fn config(State(state): State<AppState>, session: Session) -> Response {
    render_config(&state, &session, Notice::default()).await
}

async fn render_config(state: &AppState, session: &Session, notice: Notice) -> Response {
    let view = Api::new(state, session).get("/config").await;
    if !view.ok() {
        return failed(session, &view);
    }
    let start_up = view.body["start_up"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let features: Vec<Value> = view.body["settings"]["features"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"name": k, "on": v.as_bool().unwrap_or(false)}))
                .collect()
        })
        .unwrap_or_default();
    screen(
        session,
        "admin/config.html",
        "Server configuration",
        "config",
        notice,
        context! {
            properties => properties(&view.body["settings"], &start_up),
            features,
            etag => view.etag,
            revision => view.body["revision"].clone(),
            overrides => serde_json::to_string_pretty(&view.body["overrides"]).unwrap_or_default(),
        },
    )
}

/// Applies `ops` to the configuration whose tag the form carried.
async fn patch_config(
    state: &AppState,
    session: &Session,
    form: &Form,
    ops: Value,
) -> super::Reply {
    Api::new(state, session)
        .patch("/config", &ops, form.text("etag"))
        .await
}

/// `POST /admin/config`: sets one property (`key`, `value`).
async fn change_property(
    State(state): State<AppState>,
    Posted { session, form }: Posted,
) -> Response {
    let key = form.text("key");
    let ops = json!([{"op": "replace", "path": pointer(key), "value": typed(form.text("value"))}]);
    let reply = patch_config(&state, &session, &form, ops).await;
    let notice = Notice::of(&reply, format!("{key} changed."));
    render_config(&state, &session, notice).await
}

/// `POST /admin/config/features`: turns feature `flag` on or off (`on` = `true`/`false`).
async fn switch_feature(
    State(state): State<AppState>,
    Posted { session, form }: Posted,
) -> Response {
    let flag = form.text("flag");
    let on = form.text("on") == "true";
    let ops = json!([{"op": "replace", "path": pointer(&format!("features.{flag}")), "value": on}]);
    let reply = patch_config(&state, &session, &form, ops).await;
    let notice = Notice::of(
        &reply,
        format!("{flag} is {}.", if on { "on" } else { "off" }),
    );
    render_config(&state, &session, notice).await
}

/// `GET /admin/keys`.
async fn keys(State(state): State<AppState>, session: Session) -> Response {
    render_keys(&state, &session, Notice::default()).await
}

async fn render_keys(state: &AppState, session: &Session, notice: Notice) -> Response {
    let list = Api::new(state, session).get("/keys").await;
    if !list.ok() {
        return failed(session, &list);
    }
    screen(
        session,
        "admin/keys.html",
        "Keys",
        "keys",
        notice,
        context! { keys => list.body, jwks_uri => &state.urls().jwks },
    )
}

/// `POST /admin/keys/rotate`: a new key per algorithm (or the one `alg` named).
async fn rotate_keys(State(state): State<AppState>, Posted { session, form }: Posted) -> Response {
    let algorithms: Vec<&str> = Some(form.text("alg"))
        .filter(|a| !a.is_empty())
        .into_iter()
        .collect();
    let reply = Api::new(&state, &session)
        .send_json(
            Method::POST,
            "/keys/rotate",
            &json!({"algorithms": algorithms}),
            None,
        )
        .await;
    let rotated: Vec<String> = reply.body["rotated"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let notice = Notice::of(&reply, format!("New keys: {}.", rotated.join(", ")));
    render_keys(&state, &session, notice).await
}

/// `POST /admin/keys/{kid}/retire`.
async fn retire_key(
    State(state): State<AppState>,

    Path(kid): Path<String>,
    Posted { session, .. }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::POST,
            &format!("/keys/{}/retire", path_segment(&kid)),
            None,
            None,
        )
        .await;
    let notice = Notice::of(&reply, format!("Key {kid} retired."));
    render_keys(&state, &session, notice).await
}

#[derive(Debug, Default, Deserialize)]
struct AuditFilter {
    resource: Option<String>,
}

/// `GET /admin/logging[?resource=R]`: the logging properties and the audit log.
async fn logging(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<AuditFilter>,
) -> Response {
    render_logging(&state, &session, f.resource.as_deref(), Notice::default()).await
}

async fn render_logging(
    state: &AppState,
    session: &Session,
    resource: Option<&str>,
    notice: Notice,
) -> Response {
    let api = Api::new(state, session);
    let view = api.get("/config").await;
    if !view.ok() {
        return failed(session, &view);
    }
    let resource = resource.map(str::trim).filter(|r| !r.is_empty());
    let path = match resource {
        Some(r) => format!("/audit?limit=100&resource={}", path_segment(r)),
        None => "/audit?limit=100".into(),
    };
    let audit = api.get(&path).await;
    let entries: Vec<Value> = audit.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    for side in ["before", "after"] {
                        if !e[side].is_null() {
                            e[side] = Value::String(e[side].to_string());
                        }
                    }
                    e
                })
                .collect()
        })
        .unwrap_or_default();
    screen(
        session,
        "admin/logging.html",
        "Logging",
        "logging",
        notice,
        context! {
            log => view.body["settings"]["log"].clone(),
            etag => view.etag,
            entries,
            resource => resource.unwrap_or(""),
        },
    )
}

/// `POST /admin/logging`: level, layout, HTTP request logging, OAuth audit logging.
async fn change_logging(
    State(state): State<AppState>,
    Posted { session, form }: Posted,
) -> Response {
    let ops = json!([
        {"op": "replace", "path": "/log/level", "value": form.text("level")},
        {"op": "replace", "path": "/log/format", "value": form.text("format")},
        {"op": "replace", "path": "/log/http", "value": form.checked_box("http")},
        {"op": "replace", "path": "/log/oauth_audit", "value": form.checked_box("oauth_audit")},
    ]);
    let reply = patch_config(&state, &session, &form, ops).await;
    let notice = Notice::of(&reply, "Logging changed.");
    render_logging(&state, &session, None, notice).await
}

/// `GET /admin/acrs`.
async fn acrs(State(state): State<AppState>, session: Session) -> Response {
    render_acrs(&state, &session, Notice::default()).await
}

async fn render_acrs(state: &AppState, session: &Session, notice: Notice) -> Response {
    let view = Api::new(state, session).get("/acrs").await;
    if !view.ok() {
        return failed(session, &view);
    }
    screen(
        session,
        "admin/acrs.html",
        "Enabled ACRs",
        "acrs",
        notice,
        context! {
            enabled => view.body["enabled"].clone(),
            default => view.body["default"].clone(),
            etag => view.etag,
        },
    )
}

/// `POST /admin/acrs`: the enabled list (one per line) and the default.
async fn change_acrs(State(state): State<AppState>, Posted { session, form }: Posted) -> Response {
    let enabled: Vec<&str> = lines(form.text("enabled"));
    let reply = Api::new(&state, &session)
        .send_json(
            Method::PUT,
            "/acrs",
            &json!({"enabled": enabled, "default": form.text("default")}),
            Some(form.text("etag")),
        )
        .await;
    let notice = Notice::of(&reply, "Enabled ACRs changed.");
    render_acrs(&state, &session, notice).await
}

/// The non-empty lines (or comma-separated items) of a text area.
pub(super) fn lines(text: &str) -> Vec<&str> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use crate::admin::config::{pointer, typed};

    #[test]
    fn dotted_keys_become_pointers_and_values_are_typed() {
        assert_eq!(pointer("log.level"), "/log/level");
        assert_eq!(pointer("a~b.c/d"), "/a~0b/c~1d");
        assert_eq!(typed("3600"), json!(3600));
        assert_eq!(typed("true"), json!(true));
        assert_eq!(typed("info,tessera=debug"), json!("info,tessera=debug"));
    }

    #[test]
    fn properties_are_flattened_with_their_start_up_reason() {
        let settings = json!({"log": {"level": "info"}, "listen": "x", "features": {"a": true}});
        let start = vec![json!({"key": "listen", "reason": "the socket is bound at start"})];
        let rows = properties(&settings, &start);
        assert_eq!(rows.len(), 2);
        let row = |k: &str| rows.iter().find(|r| r["key"] == k).unwrap().clone();
        assert_eq!(row("log.level")["start_up"], Value::Null);
        assert_eq!(row("log.level")["value"], "\"info\"");
        assert_eq!(row("listen")["start_up"], "the socket is bound at start");
    }
}
