//! Metrics (flag METRIC): OpenMetrics text built with the Prometheus project's
//! `prometheus-client`. One [`Metrics`] per server, counted where things happen:
//!
//! - `tessera_http_requests_total{endpoint,method,status}` and
//!   `tessera_http_request_duration_seconds{endpoint,method,status}` (the route pattern, never
//!   the raw path);
//! - `tessera_tokens_issued_total{grant_type,kind,format}`;
//! - `tessera_logins_total{result}` (`success`, `failure`);
//! - `tessera_plugin_calls_total{plugin,hook}`, `tessera_plugin_errors_total{plugin,hook}`,
//!   `tessera_plugin_call_duration_seconds{plugin,hook}`;
//! - read when scraped: `tessera_active_sessions` and `tessera_db_connections{state}`.

use crate::activity::Kind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    endpoint: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant_type: String,
    kind: &'static str,
    format: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    hook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    state: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonthLabels {
    month: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatTokenLabels {
    month: String,
    client_id: String,
    grant_type: String,
    kind: String,
}

/// The stat endpoint's answer in OpenMetrics text: `tessera_stat_monthly_active_users{month}`
/// and `tessera_stat_tokens_issued{month,client_id,grant_type,kind}` (gauges: values of past
/// months, not counters of this process).
pub fn encode_stats(months: &[crate::stats::MonthStat]) -> String {
    let mut registry = Registry::with_prefix("tessera_stat");
    let users = Family::<MonthLabels, Gauge>::default();
    let tokens = Family::<StatTokenLabels, Gauge>::default();
    registry.register(
        "monthly_active_users",
        "Distinct users active in the month (HyperLogLog estimate)",
        users.clone(),
    );
    registry.register(
        "tokens_issued",
        "Tokens issued in the month by client, grant type and kind",
        tokens.clone(),
    );
    for m in months {
        users
            .get_or_create(&MonthLabels {
                month: m.month.clone(),
            })
            .set(i64::try_from(m.monthly_active_users).unwrap_or(i64::MAX));
        for (client_id, grants) in &m.tokens {
            for (grant_type, kinds) in grants {
                for (kind, n) in kinds {
                    tokens
                        .get_or_create(&StatTokenLabels {
                            month: m.month.clone(),
                            client_id: client_id.clone(),
                            grant_type: grant_type.clone(),
                            kind: kind.clone(),
                        })
                        .set(*n);
                }
            }
        }
    }
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<HttpLabels>,
    tokens: Family<TokenLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    plugin_calls: Family<PluginLabels, Counter>,
    plugin_errors: Family<PluginLabels, Counter>,
    plugin_duration: Histograms<PluginLabels>,
    active_sessions: Gauge,
    db_connections: Family<ConnectionLabels, Gauge>,
    activity: crate::activity::Activity,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let m = Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            tokens: Family::default(),
            logins: Family::default(),
            plugin_calls: Family::default(),
            plugin_errors: Family::default(),
            plugin_duration: Family::new_with_constructor(latency_histogram),
            active_sessions: Gauge::default(),
            db_connections: Family::default(),
            activity: Default::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route, method and status",
            m.http_duration.clone(),
        );
        registry.register(
            "tokens_issued",
            "Tokens issued by grant type, kind and format",
            m.tokens.clone(),
        );
        registry.register("logins", "Password logins by result", m.logins.clone());
        registry.register(
            "plugin_calls",
            "Plugin calls by plugin and hook",
            m.plugin_calls.clone(),
        );
        registry.register(
            "plugin_errors",
            "Failed plugin calls by plugin and hook",
            m.plugin_errors.clone(),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Plugin call latency by plugin and hook",
            m.plugin_duration.clone(),
        );
        registry.register(
            "active_sessions",
            "Browser sessions not expired",
            m.active_sessions.clone(),
        );
        registry.register(
            "db_connections",
            "Database pool connections by state",
            m.db_connections.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// The last minutes' activity (the admin dashboard).
    pub fn activity(&self) -> &crate::activity::Activity {
        &self.activity
    }

    /// One HTTP request to the route `endpoint`.
    pub fn http_request(&self, endpoint: &str, method: &str, status: u16, took: Duration) {
        // Any token is a valid method: only the standard ones get a series of their own, so a
        // client cannot grow the registry without bound.
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS" => method,
            _ => "other",
        };
        let labels = HttpLabels {
            endpoint: endpoint.to_string(),
            method: method.to_string(),
            status,
        };
        self.http_requests.get_or_create(&labels).inc();
        if status >= 400 {
            self.activity.record(Kind::Error);
        }
        self.http_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// A token issued under `grant_type`: `kind` `access_token`, `refresh_token` or
    /// `id_token`, `format` `jwt` or `reference`.
    pub fn token_issued(&self, grant_type: &str, kind: &'static str, format: &'static str) {
        self.activity.record(Kind::Token);
        self.tokens
            .get_or_create(&TokenLabels {
                grant_type: grant_type.to_string(),
                kind,
                format,
            })
            .inc();
    }

    /// A password login that succeeded or failed.
    pub fn login(&self, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.activity.record(if success {
            Kind::Login
        } else {
            Kind::LoginFailure
        });
        self.logins.get_or_create(&LoginLabels { result }).inc();
    }

    /// One plugin call.
    pub fn plugin_call(&self, plugin: &str, hook: &str, ok: bool, took: Duration) {
        let labels = PluginLabels {
            plugin: plugin.to_string(),
            hook: hook.to_string(),
        };
        self.plugin_calls.get_or_create(&labels).inc();
        self.activity.record(Kind::PluginCall);
        if !ok {
            self.activity.record(Kind::PluginError);
            self.plugin_errors.get_or_create(&labels).inc();
        }
        self.plugin_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The exposition, with the values read at scrape time.
    pub fn encode(&self, active_sessions: i64, pool_size: u32, pool_idle: usize) -> String {
        self.active_sessions.set(active_sessions);
        let idle = i64::try_from(pool_idle).unwrap_or(i64::MAX);
        self.db_connections
            .get_or_create(&ConnectionLabels { state: "idle" })
            .set(idle);
        self.db_connections
            .get_or_create(&ConnectionLabels { state: "in_use" })
            .set((i64::from(pool_size) - idle).max(0));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_series() {
        let m = Metrics::default();
        for method in ["GET", "BREW", "WHEN", "GET"] {
            m.http_request("/token", method, 405, Duration::from_millis(1));
        }
        let text = m.encode(0, 1, 1);
        assert!(
            text.contains(
                r#"tessera_http_requests_total{endpoint="/token",method="GET",status="405"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tessera_http_requests_total{endpoint="/token",method="other",status="405"} 2"#
            ),
            "{text}"
        );
        assert!(!text.contains("BREW"));
    }
}
