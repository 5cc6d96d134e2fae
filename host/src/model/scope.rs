//! Scope-token syntax (RFC 6749 §3.3): printable ASCII except space, `"` and `\`.

/// Whether the space-separated scope list `scopes` holds `scope`.
pub fn contains(scopes: &str, scope: &str) -> bool {
    scopes.split(' ').any(|s| s == scope)
}

/// Whether `s` is a valid scope-token.
pub fn is_valid_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}
