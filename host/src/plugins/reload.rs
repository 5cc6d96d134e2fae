//! Hot reload: a `notify` watcher on the plugins directory feeds one reload task, which waits
//! for the writes to settle (debounce) and then calls [`Registry::reload`].

use super::registry::Registry;
use notify::{RecursiveMode, Watcher};
use std::sync::Arc;
use std::time::Duration;

/// Watches the registry's directory until `stop` flips; every burst of changes triggers one
/// reload once `debounce` has passed without further events.
pub async fn watch(
    registry: Arc<Registry>,
    debounce: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let dir = registry.dir().to_path_buf();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot create the plugins directory; hot reload is off");
        return;
    }
    let watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) if relevant(&ev) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "plugin directory watch error"),
        })
        .and_then(|mut w| w.watch(&dir, RecursiveMode::NonRecursive).map(|()| w));
    let _watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the plugins directory; hot reload is off");
            return;
        }
    };
    tracing::info!(dir = %dir.display(), "watching for plugin changes");
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            ev = rx.recv() => if ev.is_none() { return },
        }
        // Debounce: wait until no event arrived for `debounce`.
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                more = tokio::time::timeout(debounce, rx.recv()) => match more {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                },
            }
        }
        registry.reload().await;
    }
}

/// Whether an event touches a plugin file (`*.toml` / `*.wasm`, not hidden or temporary).
fn relevant(ev: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode};
    // Reads (our own reloads open the files) are not changes; a closed writer is.
    if let notify::EventKind::Access(a) = ev.kind
        && a != AccessKind::Close(AccessMode::Write)
    {
        return false;
    }
    ev.paths.iter().any(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !name.starts_with('.') && (name.ends_with(".toml") || name.ends_with(".wasm"))
    })
}
