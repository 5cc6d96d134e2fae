//! Logging with `tracing`: plain or JSON lines on stderr, level from configuration. Nothing
//! logs secrets or tokens: handlers log ids (client, grant, kid), never credentials.
//!
//! The filter and the layout can be changed while the server runs ([`reload`]), as the run-time
//! configuration's `log` section changes. Both layouts are installed, each behind a per-layer
//! filter that lets it see only what is logged while it is the chosen one: a span opened under
//! one layout never reaches the other (whose formatter would not find the span's fields).

use crate::config::{LogFormat, LogSettings};
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Whether the JSON layout is the chosen one.
static JSON: AtomicBool = AtomicBool::new(false);

/// The handle that changes the installed filter, and the settings last applied.
struct Handles {
    filter: reload::Handle<EnvFilter, Registry>,
    current: std::sync::Mutex<(String, LogFormat)>,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber (once; later calls are no-ops).
pub fn init(log: &LogSettings) {
    JSON.store(log.format == LogFormat::Json, Ordering::Relaxed);
    let (filter_layer, filter_handle) = reload::Layer::new(filter(&log.level));
    let plain = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter_fn(|_| !JSON.load(Ordering::Relaxed)));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_writer(std::io::stderr)
        .with_filter(filter_fn(|_| JSON.load(Ordering::Relaxed)));
    let installed = tracing_subscriber::registry()
        .with(filter_layer)
        .with(plain)
        .with(json)
        .try_init();
    if installed.is_ok() {
        let _ = HANDLES.set(Handles {
            filter: filter_handle,
            current: std::sync::Mutex::new((log.level.clone(), log.format)),
        });
    }
}

/// Applies changed log settings to the installed subscriber (no-op when [`init`] did not install
/// one, as in tests that bring their own). `log.http` is read per request by the HTTP layer.
pub fn reload(log: &LogSettings) {
    let Some(h) = HANDLES.get() else { return };
    let mut current = h.current.lock().unwrap_or_else(|e| e.into_inner());
    if *current == (log.level.clone(), log.format) {
        return;
    }
    if current.0 != log.level
        && let Err(e) = h.filter.reload(filter(&log.level))
    {
        tracing::warn!(error = %e, "changing the log level failed");
    }
    JSON.store(log.format == LogFormat::Json, Ordering::Relaxed);
    *current = (log.level.clone(), log.format);
    drop(current);
    tracing::info!(filter = %log.level, layout = ?log.format, "logging settings applied");
}
