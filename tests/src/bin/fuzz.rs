//! Time-boxed fuzzing of the request parsers: `cargo run --release -p tessera-tests --bin fuzz
//! -- --seconds 60 [--target NAME]`. Prints executions per second per target; exits non-zero
//! with the offending input (hex) on the first panic.

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// One target (form, basic, scope, redirect, assertion, claims, manifest); all by default.
    #[arg(long)]
    target: Option<String>,
    /// RNG seed (a run is reproducible for a seed).
    #[arg(long, default_value_t = 0x7e55e7a)]
    seed: u64,
}

fn main() {
    let args = Args::parse();
    // Panics are caught and reported once, with the input; silence the default hook's noise.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for t in tessera_tests::fuzz::targets() {
        if args.target.as_deref().is_some_and(|n| n != t.name) {
            continue;
        }
        let started = std::time::Instant::now();
        let deadline = started + std::time::Duration::from_secs(args.seconds);
        match tessera_tests::fuzz::run(&t, args.seed, u64::MAX, Some(deadline)) {
            Ok(n) => {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "{:<10} {:>12} execs in {:>5.1} s = {:>10.0} execs/s, no crash",
                    t.name,
                    n,
                    secs,
                    n as f64 / secs
                );
            }
            Err(input) => {
                let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
                println!("{:<10} PANIC on input (hex): {hex}", t.name);
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
