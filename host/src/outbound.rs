//! Outbound HTTP: the one way the server fetches anything from another host (client `jwks_uri`
//! documents, back-channel logout deliveries; sector identifiers and request URIs later). Every request
//! is bounded: a connect and a total timeout, no redirects, no proxy, a body read in chunks that
//! stops at a byte cap, and a negative cache that backs off a failing URL. Loopback, private,
//! link-local, metadata and other internal addresses are refused after DNS resolution (the
//! connection goes only to the addresses checked), unless the operator allow-lists the host.

mod plugin_http;

pub use plugin_http::{
    Grant as PluginGrant, PluginHttp, PluginHttpError, PluginRequest, PluginResponse,
};

use crate::clock::UnixTime;
use crate::config::OutboundSettings;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest back-off of a failing URL, in seconds.
const MAX_BACKOFF_SECS: i64 = 3600;
/// Most URLs remembered as failing; past it the oldest are forgotten.
const MAX_FAILING: usize = 10_000;

/// Why a fetch failed. The message is for logs, never for clients.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL may not be fetched (scheme, internal address, ...).
    #[error("refused: {0}")]
    Refused(String),
    /// The URL failed recently; it is not tried again before the back-off ends.
    #[error("backing off after a recent failure ({0} s left)")]
    BackingOff(i64),
    /// The body is larger than `outbound.max_body_bytes`.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    /// Connecting, a timeout, a non-2xx status, or a broken body.
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, Clone, Copy)]
struct Failing {
    count: u32,
    until: UnixTime,
}

/// The outbound HTTP client of one server.
#[derive(Debug)]
pub struct Outbound {
    client: reqwest::Client,
    max_body_bytes: usize,
    failure_backoff_seconds: i64,
    allow: AllowList,
    failing: Mutex<HashMap<String, Failing>>,
}

/// Whether `ip` is an address a server must not be made to reach on a client's say-so:
/// loopback, private (RFC 1918, RFC 4193), link-local (cloud metadata lives there), shared
/// (RFC 6598), unspecified, multicast, broadcast, reserved or documentation ranges, and IPv6
/// forms that embed such an IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let o = v6.octets();
                return is_internal_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space, RFC 6598
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240 // reserved
}

/// The operator's allow-list of hosts that may resolve to internal addresses, normalised
/// (lower case, IPv6 literals without brackets).
#[derive(Debug, Clone)]
struct AllowList(Arc<Vec<String>>);

impl AllowList {
    fn new(hosts: &[String]) -> Self {
        Self(Arc::new(
            hosts
                .iter()
                .map(|h| {
                    h.trim_matches(|c| c == '[' || c == ']')
                        .to_ascii_lowercase()
                })
                .collect(),
        ))
    }

    /// Whether `host` (a name or an IP literal) may be reached at `ip`.
    fn may_reach(&self, host: &str, ip: IpAddr) -> bool {
        !is_internal(ip) || self.0.iter().any(|a| a.eq_ignore_ascii_case(host))
    }
}

/// Resolves names, keeping only addresses the policy allows; a name left with none fails.
struct GuardedResolver {
    allow: AllowList,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let allow = self.allow.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow.may_reach(&host, a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address that may be reached").into());
            }
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

impl Outbound {
    /// A client with `settings`.
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Self> {
        let allow = AllowList::new(&settings.allow_internal_hosts);
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect to addresses we never checked.
            .no_proxy()
            .dns_resolver(GuardedResolver {
                allow: allow.clone(),
            })
            .build()?;
        Ok(Self {
            client,
            max_body_bytes: settings.max_body_bytes,
            failure_backoff_seconds: settings.failure_backoff_seconds,
            allow,
            failing: Mutex::new(HashMap::new()),
        })
    }

    fn failing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failing>> {
        self.failing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// GETs `url` and returns its body (at most `outbound.max_body_bytes`). `now` drives the
    /// negative cache.
    pub async fn get(&self, url: &url::Url, now: UnixTime) -> Result<Vec<u8>, OutboundError> {
        if let Some(f) = self.failing().get(url.as_str())
            && f.until > now
        {
            return Err(OutboundError::BackingOff(f.until - now));
        }
        let result = self.fetch(url).await;
        let mut failing = self.failing();
        match &result {
            Ok(_) => {
                failing.remove(url.as_str());
            }
            // A refusal is the URL's own fault and costs nothing to repeat.
            Err(OutboundError::Refused(_)) => {}
            Err(_) => {
                let count = failing.get(url.as_str()).map_or(0, |f| f.count) + 1;
                let backoff = self
                    .failure_backoff_seconds
                    .saturating_mul(1_i64 << (count - 1).min(16))
                    .min(MAX_BACKOFF_SECS);
                if failing.len() >= MAX_FAILING {
                    failing.retain(|_, f| f.until > now);
                    if failing.len() >= MAX_FAILING {
                        failing.clear();
                    }
                }
                failing.insert(
                    url.to_string(),
                    Failing {
                        count,
                        until: now + backoff,
                    },
                );
            }
        }
        result
    }

    /// POSTs `form` to `url` (a back-channel logout delivery) under the same address checks,
    /// timeouts and body cap as [`Outbound::get`], but with no negative cache: every delivery
    /// is tried. Succeeds on a 2xx answer; the body is read (up to the cap) and dropped.
    pub async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
    ) -> Result<(), OutboundError> {
        self.check(url)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(req).await.map(drop)
    }

    async fn fetch(&self, url: &url::Url) -> Result<Vec<u8>, OutboundError> {
        self.check(url)?;
        self.send(self.client.get(url.clone())).await
    }

    /// The scheme and, for an IP literal, the address (the resolver sees only names).
    fn check(&self, url: &url::Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Refused(format!("scheme {}", url.scheme())));
        }
        let literal: Option<IpAddr> = match url.host() {
            None => return Err(OutboundError::Refused("no host".into())),
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            Some(url::Host::Domain(_)) => None,
        };
        if let Some(ip) = literal
            && !self.allow.may_reach(&ip.to_string(), ip)
        {
            return Err(OutboundError::Refused(format!("internal address {ip}")));
        }
        Ok(())
    }

    /// Sends a checked request; a 2xx answer's body, read in chunks up to the cap.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, OutboundError> {
        let max = self.max_body_bytes;
        let mut resp = req
            .send()
            .await
            .map_err(|e| OutboundError::Failed(describe(&e)))?;
        if !resp.status().is_success() {
            return Err(OutboundError::Failed(format!("status {}", resp.status())));
        }
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(OutboundError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| OutboundError::Failed(describe(&e)))?
        {
            if body.len() + chunk.len() > max {
                return Err(OutboundError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// reqwest's error with its causes (the resolver's refusal sits in the chain).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(is_internal(a.parse().expect("ip")), "{a}");
        }
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(a.parse().expect("ip")), "{a}");
        }
    }
}
