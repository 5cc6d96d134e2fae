//! Logging with `tracing`: plain or JSON lines on stderr, level from configuration. Nothing
//! logs secrets or tokens: handlers log ids (client, grant, kid), never credentials.
//!
//! The filter and the layout can be changed while the server runs ([`reload`]), as the run-time
//! configuration's `log` section changes.

use crate::config::{LogFormat, LogSettings};
use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

type Filtered = tracing_subscriber::layer::Layered<reload::Layer<EnvFilter, Registry>, Registry>;
type Output = Box<dyn Layer<Filtered> + Send + Sync>;

/// The handles that change the installed subscriber, and what it was last set to.
struct Handles {
    filter: reload::Handle<EnvFilter, Registry>,
    output: reload::Handle<Output, Filtered>,
    current: std::sync::Mutex<(String, LogFormat)>,
}

static HANDLES: OnceLock<Handles> = OnceLock::new();

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

fn output(format: LogFormat) -> Output {
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => layer.boxed(),
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
    }
}

/// Installs the global subscriber (once; later calls are no-ops).
pub fn init(log: &LogSettings) {
    let (filter_layer, filter_handle) = reload::Layer::new(filter(&log.level));
    let (output_layer, output_handle) = reload::Layer::new(output(log.format));
    let installed = tracing_subscriber::registry()
        .with(filter_layer)
        .with(output_layer)
        .try_init();
    if installed.is_ok() {
        let _ = HANDLES.set(Handles {
            filter: filter_handle,
            output: output_handle,
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
    if current.1 != log.format
        && let Err(e) = h.output.reload(output(log.format))
    {
        tracing::warn!(error = %e, "changing the log layout failed");
    }
    *current = (log.level.clone(), log.format);
    drop(current);
    tracing::info!(level = %log.level, format = ?log.format, "logging settings applied");
}
