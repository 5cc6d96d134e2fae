//! Operator- and client-supplied regular expressions (`redirect_uris_regex`,
//! `spontaneous_scopes`): always matched against the whole value, compiled once per process
//! with a size limit. Rust's `regex` matches in linear time, so no pattern can make a match slow;
//! the size limit bounds the memory and time of compiling one.

use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Largest compiled program (and lazy-DFA cache) one pattern may take, in bytes.
const SIZE_LIMIT: usize = 256 * 1024;
/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// Compiled patterns kept; the cache starts over when it is full.
const CACHE_ENTRIES: usize = 4096;

/// Compiles `pattern` anchored at both ends, or says why it cannot be used.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("longer than {MAX_PATTERN_BYTES} bytes"));
    }
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => {
                format!("too complex (compiles to more than {SIZE_LIMIT} bytes)")
            }
            e => e.to_string(),
        })
}

/// Whether `value` as a whole matches `pattern`. A pattern that does not compile matches nothing
/// (stored patterns were checked when they were registered).
pub fn full_match(pattern: &str, value: &str) -> bool {
    type Cache = Mutex<HashMap<String, Option<Arc<Regex>>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(pattern)
        .cloned();
    let re = match cached {
        Some(re) => re,
        None => {
            let re = compile(pattern).ok().map(Arc::new);
            let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= CACHE_ENTRIES {
                map.clear();
            }
            map.insert(pattern.to_string(), re.clone());
            re
        }
    };
    re.is_some_and(|r| r.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_value_only() {
        assert!(full_match("^transaction:.+$", "transaction:245"));
        assert!(!full_match("^transaction:.+$", "transaction:"));
        assert!(full_match("transaction:.+", "transaction:245"));
        assert!(!full_match("transaction:.+", "x transaction:245"));
        assert!(!full_match("a|b", "ab"));
        assert!(!full_match("(", "("));
    }

    #[test]
    fn size_limited() {
        assert!(compile("a{1000}").is_ok());
        assert!(compile("(?:a{1000}){1000}").is_err());
        assert!(compile(&"a".repeat(MAX_PATTERN_BYTES + 1)).is_err());
    }
}
