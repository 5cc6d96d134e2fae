//! Outbound HTTP for plugins (`host.fetch`, WIT 0.2): the host a plugin may reach is the
//! operator's decision, written in the plugin's manifest (`[http] allow`); everything else about
//! the request is bounded here as for the server's own fetches: no redirects, no proxy, a connect
//! timeout, the call's deadline as the total timeout, and a response body read in chunks that
//! stops at the manifest's `max_response_bytes`.

use crate::config::OutboundSettings;
use std::time::{Duration, Instant};

/// A request a plugin makes.
#[derive(Debug)]
pub struct PluginRequest {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Vec<u8>>,
}

/// The response a plugin gets.
#[derive(Debug)]
pub struct PluginResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// Why a plugin's request got no response.
#[derive(Debug, PartialEq, Eq)]
pub enum PluginHttpError {
    /// Not allowed, or malformed; the text says which.
    Denied(String),
    /// No complete response before the deadline.
    Timeout,
    /// The body is larger than allowed.
    TooLarge,
    /// Resolution, connection, TLS or protocol failure.
    Failed(String),
}

/// What the operator granted one plugin: the hosts it may reach and the response-size cap.
pub trait Grant {
    /// Whether `host` (lower case, IPv6 without brackets) on `port` may be reached.
    fn allows(&self, host: &str, port: u16) -> bool;
    /// Largest response body, in bytes.
    fn max_response_bytes(&self) -> usize;
}

/// Most request headers a plugin may send.
const MAX_HEADERS: usize = 32;
/// Headers the HTTP client sets itself.
const HOST_HEADERS: [&str; 4] = ["host", "content-length", "connection", "transfer-encoding"];
/// Largest request body a plugin may send.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// The HTTP client plugins' requests go through (one per server).
#[derive(Debug)]
pub struct PluginHttp {
    client: reqwest::Client,
    timeout: Duration,
}

impl PluginHttp {
    /// A client with the server's outbound connect timeout; `outbound.timeout_ms` caps each
    /// request besides the call's deadline.
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            timeout: Duration::from_millis(settings.timeout_ms),
        })
    }

    /// Sends `req` if `grant` allows its host, waiting at most until `deadline`.
    pub async fn send(
        &self,
        req: PluginRequest,
        grant: &(dyn Grant + Sync),
        deadline: Instant,
    ) -> Result<PluginResponse, PluginHttpError> {
        let url =
            url::Url::parse(&req.url).map_err(|e| PluginHttpError::Denied(format!("url: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PluginHttpError::Denied(format!(
                "url: scheme {} (http or https only)",
                url.scheme()
            )));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(PluginHttpError::Denied("url: no host".into())),
        };
        let port = url.port_or_known_default().unwrap_or(0);
        if !grant.allows(&host, port) {
            return Err(PluginHttpError::Denied(format!(
                "{host}:{port} is not in the plugin's http.allow list"
            )));
        }
        let method = match req.method.to_ascii_uppercase().as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE") => {
                reqwest::Method::from_bytes(m.as_bytes())
                    .map_err(|e| PluginHttpError::Denied(format!("method: {e}")))?
            }
            other => {
                return Err(PluginHttpError::Denied(format!(
                    "method {other:?} (GET, HEAD, POST, PUT, PATCH, DELETE)"
                )));
            }
        };
        if req.headers.len() > MAX_HEADERS {
            return Err(PluginHttpError::Denied(format!(
                "at most {MAX_HEADERS} headers"
            )));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| PluginHttpError::Denied(format!("header name {name:?}")))?;
            if HOST_HEADERS.contains(&name.as_str()) {
                return Err(PluginHttpError::Denied(format!(
                    "header {name} is set by the host"
                )));
            }
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| PluginHttpError::Denied(format!("header {name}: invalid value")))?;
            headers.append(name, value);
        }
        let mut builder = self.client.request(method, url).headers(headers);
        if let Some(body) = req.body {
            if body.len() > MAX_REQUEST_BODY {
                return Err(PluginHttpError::Denied(format!(
                    "request body larger than {MAX_REQUEST_BODY} bytes"
                )));
            }
            builder = builder.body(body);
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(self.timeout);
        let max = grant.max_response_bytes();
        let exchange = async {
            let mut resp = builder
                .send()
                .await
                .map_err(|e| PluginHttpError::Failed(super::describe(&e)))?;
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(PluginHttpError::TooLarge);
            }
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| PluginHttpError::Failed(super::describe(&e)))?
            {
                if body.len() + chunk.len() > max {
                    return Err(PluginHttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(PluginResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(left, exchange)
            .await
            .unwrap_or(Err(PluginHttpError::Timeout))
    }
}
