//! Seed 001's deployment screen, for Wasm plugins: the deployed plugins with live figures,
//! upload (manifest, component, SHA-256), enable/disable, delete, and canary deployments with
//! their differences, promotion and discarding.

use super::{Api, Form, Notice, Posted, Reply, Session, failed, screen};
use crate::admin::api::plugins::MAX_UPLOAD_BYTES;
use crate::admin::path_segment;
use crate::server::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use minijinja::context;
use serde_json::json;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/plugins",
            get(list)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/admin/plugins/{name}", get(show))
        .route("/admin/plugins/{name}/enabled", post(set_enabled))
        .route("/admin/plugins/{name}/delete", post(delete))
        .route(
            "/admin/plugins/{name}/canary",
            post(deploy_canary).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/admin/plugins/{name}/canary/promote", post(promote))
        .route("/admin/plugins/{name}/canary/discard", post(discard))
}

/// `GET /admin/plugins`.
async fn list(State(state): State<AppState>, session: Session) -> Response {
    render_list(&state, &session, Notice::default()).await
}

async fn render_list(state: &AppState, session: &Session, notice: Notice) -> Response {
    let list = Api::new(state, session).get("/plugins").await;
    if !list.ok() {
        return failed(session, &list);
    }
    screen(
        session,
        "admin/plugins.html",
        "Plugins",
        "plugins",
        notice,
        context! { plugins => list.body["items"].clone() },
    )
}

async fn render_plugin(
    state: &AppState,
    session: &Session,
    name: &str,
    notice: Notice,
) -> Response {
    let reply = Api::new(state, session)
        .get(&format!("/plugins/{}", path_segment(name)))
        .await;
    if !reply.ok() {
        return failed(session, &reply);
    }
    screen(
        session,
        "admin/plugin.html",
        &format!("Plugin {name}"),
        "plugins",
        notice,
        context! { p => reply.body },
    )
}

/// `GET /admin/plugins/{name}`.
async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> Response {
    render_plugin(&state, &session, &name, Notice::default()).await
}

/// An upload form: the text fields, and the manifest and component files.
struct Upload {
    fields: Vec<(String, String)>,
    manifest: String,
    wasm: Vec<u8>,
}

impl Upload {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// The plugin's name: the manifest's `name`.
    fn name(&self) -> Result<String, String> {
        let table: toml::Table = self
            .manifest
            .parse()
            .map_err(|e| format!("manifest: not TOML: {e}"))?;
        table
            .get("name")
            .and_then(|n| n.as_str())
            .map(String::from)
            .ok_or_else(|| "manifest: no name".to_string())
    }
}

/// Reads a multipart upload and checks its CSRF token.
async fn read_upload(
    session: &Session,
    mut parts: Multipart,
) -> Result<Upload, Result<Response, String>> {
    let mut up = Upload {
        fields: Vec::new(),
        manifest: String::new(),
        wasm: Vec::new(),
    };
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(Err(format!("the upload could not be read: {e}"))),
        };
        let name = field.name().unwrap_or("").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| Err(format!("the upload could not be read: {e}")))?;
        match name.as_str() {
            "wasm" => up.wasm = bytes.to_vec(),
            "manifest" => {
                up.manifest = String::from_utf8(bytes.to_vec())
                    .map_err(|_| Err("manifest: not UTF-8 text".to_string()))?
            }
            _ => up
                .fields
                .push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    let csrf_form = Form(up.fields.clone());
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", csrf_form.text("csrf"))
        .finish();
    Form::checked(session, body.as_bytes()).map_err(|f| Ok(f.into_response()))?;
    Ok(up)
}

fn wasm_b64(wasm: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(wasm)
}

/// `POST /admin/plugins` (multipart): deploys a plugin.
async fn upload(State(state): State<AppState>, session: Session, parts: Multipart) -> Response {
    let up = match read_upload(&session, parts).await {
        Ok(u) => u,
        Err(Ok(resp)) => return resp,
        Err(Err(msg)) => return render_list(&state, &session, Notice::error(msg)).await,
    };
    let name = match up.name() {
        Ok(n) => n,
        Err(msg) => return render_list(&state, &session, Notice::error(msg)).await,
    };
    let body = json!({
        "name": name, "manifest": up.manifest, "wasm": wasm_b64(&up.wasm), "sha256": up.field("sha256"),
    });
    let reply = Api::new(&state, &session)
        .send_json(Method::POST, "/plugins", &body, None)
        .await;
    if !reply.ok() {
        return render_list(&state, &session, Notice::error(reply.problem())).await;
    }
    render_plugin(
        &state,
        &session,
        &name,
        Notice::ok(format!("{name} deployed.")),
    )
    .await
}

/// `POST /admin/plugins/{name}/enabled`.
async fn set_enabled(
    State(state): State<AppState>,

    Path(name): Path<String>,
    Posted { session, form }: Posted,
) -> Response {
    let enabled = form.text("enabled") == "true";
    let reply = Api::new(&state, &session)
        .send_json(
            Method::PATCH,
            &format!("/plugins/{}", path_segment(&name)),
            &json!({"enabled": enabled}),
            None,
        )
        .await;
    let done = if enabled { "enabled" } else { "disabled" };
    render_plugin(
        &state,
        &session,
        &name,
        Notice::of(&reply, format!("{name} {done}.")),
    )
    .await
}

/// `POST /admin/plugins/{name}/delete`.
async fn delete(
    State(state): State<AppState>,

    Path(name): Path<String>,
    Posted { session, .. }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/plugins/{}", path_segment(&name)),
            None,
            None,
        )
        .await;
    render_list(
        &state,
        &session,
        Notice::of(&reply, format!("{name} removed.")),
    )
    .await
}

/// `POST /admin/plugins/{name}/canary` (multipart): deploys a canary.
async fn deploy_canary(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    parts: Multipart,
) -> Response {
    let up = match read_upload(&session, parts).await {
        Ok(u) => u,
        Err(Ok(resp)) => return resp,
        Err(Err(msg)) => return render_plugin(&state, &session, &name, Notice::error(msg)).await,
    };
    let Ok(sample) = up.field("sample_percent").parse::<u8>() else {
        let msg = "Sample: a whole percentage, 1 to 100";
        return render_plugin(&state, &session, &name, Notice::error(msg)).await;
    };
    let body = json!({
        "manifest": up.manifest, "wasm": wasm_b64(&up.wasm), "sha256": up.field("sha256"),
        "sample_percent": sample,
    });
    let reply = Api::new(&state, &session)
        .send_json(
            Method::PUT,
            &format!("/plugins/{}/canary", path_segment(&name)),
            &body,
            None,
        )
        .await;
    render_plugin(
        &state,
        &session,
        &name,
        Notice::of(&reply, "Canary deployed."),
    )
    .await
}

/// `POST /admin/plugins/{name}/canary/promote`: promotes the canary shown on the page.
async fn promote(
    State(state): State<AppState>,

    Path(name): Path<String>,
    Posted { session, .. }: Posted,
) -> Response {
    let api = Api::new(&state, &session);
    let current = api.get(&format!("/plugins/{}", path_segment(&name))).await;
    let Some(sha) = current.body["canary"]["sha256"].as_str() else {
        let notice = if current.ok() {
            Notice::error("There is no canary to promote.")
        } else {
            Notice::error(current.problem())
        };
        return render_plugin(&state, &session, &name, notice).await;
    };
    let reply: Reply = api
        .send_json(
            Method::POST,
            &format!("/plugins/{}/canary/promote", path_segment(&name)),
            &json!({"sha256": sha}),
            None,
        )
        .await;
    render_plugin(
        &state,
        &session,
        &name,
        Notice::of(&reply, "Canary promoted: it is the live version now."),
    )
    .await
}

/// `POST /admin/plugins/{name}/canary/discard`.
async fn discard(
    State(state): State<AppState>,

    Path(name): Path<String>,
    Posted { session, .. }: Posted,
) -> Response {
    let reply = Api::new(&state, &session)
        .call(
            Method::DELETE,
            &format!("/plugins/{}/canary", path_segment(&name)),
            None,
            None,
        )
        .await;
    render_plugin(
        &state,
        &session,
        &name,
        Notice::of(&reply, "Canary discarded."),
    )
    .await
}
