//! Logging settings change at run time (issue 14, seed 001 Logging): the level and the layout
//! switch while spans are open (a request that changes the layout is itself inside a span),
//! without a panic and with the new level in force at once.

use tessera::config::{LogFormat, LogSettings};

fn settings(level: &str, format: LogFormat) -> LogSettings {
    LogSettings {
        level: level.into(),
        format,
        http: true,
        oauth_audit: false,
    }
}

#[test]
fn level_and_layout_switch_inside_open_spans() {
    tessera::logging::init(&settings("info", LogFormat::Plain));
    assert!(tracing::enabled!(tracing::Level::INFO));

    let request = tracing::info_span!("http", method = "PATCH", path = "/admin/api/v1/config");
    request.in_scope(|| {
        tracing::info!("before the change");
        tessera::logging::reload(&settings("info", LogFormat::Json));
        // Formatted by the JSON layout, inside a span opened under the plain one.
        tracing::info!(status = 200, "after the change");
    });
    let second = tracing::info_span!("http", method = "GET", path = "/jwks");
    second.in_scope(|| {
        tracing::info!("inside a span opened under JSON");
        tessera::logging::reload(&settings("warn,tessera=debug", LogFormat::Plain));
        tracing::warn!("and back to plain");
    });
    assert!(!tracing::enabled!(target: "other", tracing::Level::INFO));
    assert!(tracing::enabled!(target: "tessera::http", tracing::Level::DEBUG));
    tessera::logging::reload(&settings("info", LogFormat::Plain));
    assert!(tracing::enabled!(target: "other", tracing::Level::INFO));
}
