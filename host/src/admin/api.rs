//! The admin REST API under `/admin/api/v1` (seed 001's Auth Server menu as resources), with
//! its OpenAPI 3.1 document at `/admin/api/openapi.json`, generated from the handlers' own
//! types and `#[utoipa::path]` annotations so that it cannot drift from them.
//!
//! Conventions: JSON in and out; errors are RFC 9457 problems ([`problem::Problem`]); lists
//! are paged (`limit`, `offset`) and filterable; a resource's representation carries an
//! `ETag`, and changing it requires `If-Match` with that tag (428 without, 412 when stale),
//! so two administrators never overwrite each other's changes; partial updates are RFC 6902
//! JSON Patch documents (`application/json-patch+json`), as in Janssen's config-api. Every
//! call needs a bearer token with the resource's scope ([`auth`]).

pub mod acrs;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod config;
pub mod keys;
pub mod plugins;
pub mod problem;
pub mod scopes;
pub mod sessions;
pub mod transfer;
pub mod users;

use crate::server::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use problem::Problem;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the API lives.
pub const BASE: &str = "/admin/api/v1";
/// Where its OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/admin/api/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera admin API",
        version = "1",
        description = "Administration of a Tessera OpenID Provider: clients, scopes, signing keys, sessions and the run-time configuration. Every call needs a bearer access token issued by this server with the resource's scope (tessera.admin.<resource>.read or .write, or tessera.admin for all)."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "clients", description = "OAuth clients (seed 001: Clients)"),
        (name = "scopes", description = "Scopes and the claims they release (seed 001: Scopes)"),
        (name = "keys", description = "Signing keys (seed 001: Keys)"),
        (name = "sessions", description = "Browser sessions (seed 001: Sessions)"),
        (name = "users", description = "End-users and administrators (the admin role)"),
        (name = "plugins", description = "Wasm plugin deployment (seed 001: Agama deployment, for Wasm plugins)"),
        (name = "transfer", description = "Export and import of the whole configuration"),
        (name = "audit", description = "The audit log of administrative changes (seed 001: Logging)"),
        (name = "config", description = "Server properties, feature flags and logging (seed 001: Server configuration, Logging)"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin API's routes and its OpenAPI document, to merge into the application.
pub fn router() -> Router<AppState> {
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(BASE, resources())
        .split_for_parts();
    let doc = Arc::new(doc.to_json().unwrap_or_default());
    api.route(
        OPENAPI_PATH,
        axum::routing::get(move || {
            let doc = doc.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    doc.as_str().to_owned(),
                )
            }
        }),
    )
}

/// `resp` with `Location` set to the created resource, `BASE/collection/{id}` (the id
/// percent-encoded as one path segment).
pub fn located(mut resp: Response, collection: &str, id: &str) -> Response {
    let location = format!("{BASE}/{collection}/{}", crate::admin::path_segment(id));
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The OpenAPI document (for tools and tests that want it without a server).
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest(BASE, resources())
        .into_openapi()
}

fn resources() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clients::list, clients::create))
        .routes(routes!(
            clients::read,
            clients::replace,
            clients::patch,
            clients::delete
        ))
        .routes(routes!(clients::regenerate_secret))
        .routes(routes!(scopes::list, scopes::create))
        .routes(routes!(
            scopes::read,
            scopes::replace,
            scopes::patch,
            scopes::delete
        ))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::retire))
        .routes(routes!(sessions::list, sessions::revoke_user))
        .routes(routes!(sessions::revoke))
        .routes(routes!(config::read, config::patch))
        .routes(routes!(acrs::read, acrs::replace))
        .routes(routes!(audit::list))
        .routes(routes!(transfer::export))
        .routes(routes!(plugins::list, plugins::deploy))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::read, users::patch))
        .routes(routes!(plugins::read, plugins::change, plugins::remove))
        .routes(routes!(plugins::deploy_canary, plugins::discard_canary))
        .routes(routes!(plugins::promote_canary))
        .routes(routes!(transfer::import))
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match, over every page.
    pub total: u64,
    /// The page size used.
    pub limit: u32,
    /// The offset used.
    pub offset: u32,
}

/// The page size (1 to 500, default 50) and offset (default 0) a list request asks for.
pub fn paging(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32), Problem> {
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(Problem::bad_request("limit: 1 to 500"));
    }
    Ok((limit, offset.unwrap_or(0)))
}

/// The page of `all` that `limit` (1 to 500, default 50) and `offset` (default 0) select.
pub fn page<T>(all: Vec<T>, limit: Option<u32>, offset: Option<u32>) -> Result<Page<T>, Problem> {
    let (limit, offset) = paging(limit, offset)?;
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(Page {
        items,
        total,
        limit,
        offset,
    })
}

/// One operation of an RFC 6902 JSON Patch document.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchOperation {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    #[schema(pattern = "^(add|remove|replace|move|copy|test)$")]
    pub op: String,
    /// A JSON Pointer (RFC 6901) to the target member.
    pub path: String,
    /// The value (`add`, `replace`, `test`).
    pub value: Option<Value>,
    /// A JSON Pointer to the source (`move`, `copy`).
    pub from: Option<String>,
}

/// The JSON body of a request with `Content-Type: expected` (415 otherwise; 400 when it is
/// not JSON).
pub fn json_body(headers: &HeaderMap, body: &Bytes, expected: &str) -> Result<Value, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if ct.as_deref() != Some(expected) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be {expected}"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))
}

/// The `If-Match` header an update requires (428 without it).
pub fn required_if_match(headers: &HeaderMap) -> Result<&str, Problem> {
    headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .map_err(|_| Problem::bad_request("If-Match: not a list of entity tags"))
        })
        .transpose()?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::PRECONDITION_REQUIRED,
                "this update needs If-Match with the entity tag of the representation it changes",
            )
        })
}

/// A JSON response with an `ETag` and `Cache-Control: no-store`.
pub fn tagged<T: Serialize>(status: StatusCode, etag: &str, body: &T) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A JSON response with `Cache-Control: no-store`.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Records a change `caller` made in the audit log (and the server log).
pub async fn audit(
    state: &AppState,
    caller: &auth::Caller,
    resource: auth::Resource,
    action: &str,
    id: &str,
    before: Option<Value>,
    after: Option<Value>,
) {
    let change = crate::admin::audit::Change {
        actor_client: &caller.client_id,
        actor_user: caller.subject.as_deref(),
        resource: resource.name(),
        action,
        resource_id: id,
        before,
        after,
    };
    crate::admin::audit::record(state.store(), change, state.now()).await;
}

/// `t` as JSON, for the audit log.
pub fn repr<T: Serialize>(t: &T) -> Option<Value> {
    serde_json::to_value(t).ok()
}

/// The query string of a request as `T`, or a 400 problem.
pub fn query<T: serde::de::DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, Problem> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| Problem::bad_request(e.body_text()))
}
