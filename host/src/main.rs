//! The `tessera` binary: parses the command line and runs it. A bad configuration stops
//! start-up with one line naming the key.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = tessera::cli::Cli::parse();
    let loaded = match tessera::config::Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if loaded.settings.worker_threads > 0 {
        rt.worker_threads(loaded.settings.worker_threads);
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(tessera::cli::run(cli, loaded)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
