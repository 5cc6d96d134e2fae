//! Scope strings (RFC 6749 §3.3): space-delimited tokens of printable ASCII except `"` and `\`.

use crate::oauth::OAuthError;

pub use crate::model::scope::is_valid_scope_token;

/// Splits a `scope` parameter, refusing malformed tokens; keeps first-seen order, drops repeats.
pub fn parse(scope: &str) -> Result<Vec<&str>, OAuthError> {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !is_valid_scope_token(s) {
            return Err(OAuthError::InvalidScope("malformed scope".into()));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens() {
        assert_eq!(parse("a b  a c").expect("ok"), ["a", "b", "c"]);
        assert!(parse("a \"b\"").is_err());
        assert!(parse("a\\b").is_err());
        assert!(parse("é").is_err());
    }
}
