//! A small mutation fuzzer for the request parsers, shared by the bounded property tests in
//! the suite (`tests/tests/parsers.rs`) and the time-boxed fuzz command
//! (`cargo run --release -p tessera-tests --bin fuzz -- --seconds 60`). Stable Rust, no
//! instrumentation: inputs are seeds mutated by bit flips, byte edits, splices of
//! protocol-shaped tokens, and repetition (deep nesting, long values).

use std::panic::AssertUnwindSafe;
use tessera::model::{Client, ClientMetadata};

/// xorshift64*: deterministic for a seed, fast, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Tokens worth splicing into inputs: delimiters, encodings, JSON and URL pieces.
const DICTIONARY: &[&str] = &[
    "&",
    "=",
    "%",
    "%00",
    "%FF",
    "%2",
    "+",
    " ",
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "null",
    "true",
    "1e999",
    "-0",
    "\"essential\"",
    "\"value\"",
    "\"values\"",
    "userinfo",
    "id_token",
    "http://",
    "https://",
    "127.0.0.1",
    "[::1]",
    ":65536",
    ":99999",
    "/../",
    "#",
    "?",
    "@",
    "Basic ",
    "Bearer ",
    "==",
    ".",
    "eyJ",
    "\u{0}",
    "\u{202e}",
    "é",
    "\r\n",
    "resource=",
    "scope=",
    "client_id=",
    "hook = ",
    "[limits]",
    "[bindings]",
    "\n",
];

/// One mutated copy of `seed`.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next_u64() as u8;
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = rng.below(v.len() - i).min(16) + 1;
                v.drain(i..(i + n).min(v.len()));
            }
            3 | 4 => {
                let i = rng.below(v.len() + 1);
                let t = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes();
                v.splice(i..i, t.iter().copied());
            }
            5 => {
                // Repetition: deep nesting or a long run.
                let i = rng.below(v.len() + 1);
                let t = DICTIONARY[rng.below(DICTIONARY.len())].as_bytes().to_vec();
                let times = 1 + rng.below(200);
                let rep: Vec<u8> = t.iter().copied().cycle().take(t.len() * times).collect();
                v.splice(i..i, rep);
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next_u64() as u8);
            }
        }
    }
    v.truncate(64 * 1024);
    v
}

/// Runs a parser on one input; it must not panic.
pub type Runner = Box<dyn Fn(&[u8]) + Send + Sync>;

/// A parser under test: its name, its seeds, and a function that must not panic on any input.
pub struct Target {
    /// The name (`--target`).
    pub name: &'static str,
    /// Valid inputs to start from.
    pub seeds: Vec<Vec<u8>>,
    /// Runs the parser on one input.
    pub run: Runner,
}

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

fn native_client() -> Client {
    let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1/cb", "https://rp.example/cb?x=1", "http://[::1]:8080/a"],
        "redirect_uris_regex": "https?://.*",
        "token_endpoint_auth_method": "none",
    }))
    .expect("valid metadata");
    Client {
        client_id: "c".into(),
        secret_hash: None,
        secret_sealed: None,
        metadata,
        created_at: 0,
    }
}

/// Every parser target.
pub fn targets() -> Vec<Target> {
    let s = |items: &[&str]| {
        items
            .iter()
            .map(|x| x.as_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    let client = native_client();
    vec![
        Target {
            name: "form",
            seeds: s(&[
                "grant_type=client_credentials&scope=a+b%20c&resource=https%3A%2F%2Fx",
                "a=1&a=2",
                "x=%E2%82%AC&y=&&=z",
            ]),
            run: Box::new(|i| {
                let _ = tessera::oauth::form::OAuthForm::parse(i);
            }),
        },
        Target {
            name: "basic",
            seeds: s(&[
                "Basic YTpi",
                "Basic YSUzQWI6YyUyMGQ=",
                "basic Og==",
                "Bearer x",
            ]),
            run: Box::new(|i| {
                let _ = tessera::oauth::client_auth::parse_basic(i);
            }),
        },
        Target {
            name: "scope",
            seeds: s(&["openid profile email", "a  b a", "x\"y"]),
            run: Box::new(|i| {
                let _ = tessera::oauth::scope::parse(&text(i));
            }),
        },
        Target {
            name: "redirect",
            seeds: s(&[
                "http://127.0.0.1:5000/cb",
                "https://rp.example/cb?x=1",
                "http://[::1]/a",
                "http://127.0.0.1:/cb",
            ]),
            run: Box::new(move |i| {
                let _ = tessera::oauth::redirect::is_registered(&client, &text(i));
            }),
        },
        Target {
            name: "assertion",
            seeds: s(&[
                "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJjIiwiYXVkIjpbImEiXX0.c2ln",
                "a.b.c",
                "eyJ9.eyJzdWIiOjF9.",
            ]),
            run: Box::new(|i| {
                let t = text(i);
                let _ = tessera::oauth::client_auth::unverified_subject(&t);
                let _ = jsonwebtoken::decode_header(&t);
            }),
        },
        Target {
            name: "claims",
            seeds: s(&[
                r#"{"userinfo":{"email":null,"name":{"essential":true}},"id_token":{"acr":{"values":["a"]}}}"#,
                r#"{"id_token":{"auth_time":{"value":1}}}"#,
                "[[[[]]]]",
            ]),
            run: Box::new(|i| {
                if let Ok(v) = tessera::oauth::authorize::parse_claims(&text(i), 8) {
                    // Whatever is accepted must survive a store round trip.
                    let stored = serde_json::to_string(&serde_json::json!({"a": {"b": {"c": v}}}))
                        .expect("serialize");
                    serde_json::from_str::<serde_json::Value>(&stored)
                        .expect("an accepted claims value reads back");
                }
            }),
        },
        Target {
            name: "manifest",
            seeds: s(&[
                "hook = \"update-token\"\nversion = \"1.0.0\"\nsha256 = \"00\"\npriority = 5\n[limits]\ntimeout_ms = 20\n[bindings]\nclients = [\"a\"]\n[config]\nk = \"v\"\n",
                "hook = \"dynamic-scope\"\n[bindings]\nscopes = [\"org\"]\n",
            ]),
            run: Box::new(|i| {
                let _ = tessera::plugins::Manifest::parse(&text(i), "fuzz");
            }),
        },
    ]
}

/// Runs `target` on `iterations` mutated inputs (seeded by `seed`), or until `deadline`.
/// Returns the number of executions, or the first input that panicked.
pub fn run(
    target: &Target,
    seed: u64,
    iterations: u64,
    deadline: Option<std::time::Instant>,
) -> Result<u64, Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut corpus = target.seeds.clone();
    let mut n = 0;
    while n < iterations && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        for _ in 0..256 {
            let base = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base);
            if std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input))).is_err() {
                return Err(input);
            }
            // Keep some mutants as new bases so mutations compound.
            if rng.below(64) == 0 && corpus.len() < 512 {
                corpus.push(input);
            }
            n += 1;
        }
    }
    Ok(n)
}
