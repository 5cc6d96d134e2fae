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

/// The kinds of scope (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeType {
    /// An OAuth scope: a description, no claims.
    OAuth,
    /// An OpenID scope: releases the user attributes linked to it.
    OpenId,
    /// A dynamic scope: its claims come from the dynamic-scope plugins that serve it (and from
    /// any attributes linked to it, like an OpenID scope).
    Dynamic,
    /// Created by a client presenting a value that matches one of its `spontaneous_scopes`
    /// patterns; never by hand.
    Spontaneous,
    /// A UMA scope (stored now; used by UMA resource registration).
    Uma,
}

impl ScopeType {
    /// Every type, as stored.
    pub const ALL: [ScopeType; 5] = [
        ScopeType::OAuth,
        ScopeType::OpenId,
        ScopeType::Dynamic,
        ScopeType::Spontaneous,
        ScopeType::Uma,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeType::OAuth => "oauth",
            ScopeType::OpenId => "openid",
            ScopeType::Dynamic => "dynamic",
            ScopeType::Spontaneous => "spontaneous",
            ScopeType::Uma => "uma",
        }
    }

    /// The type stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether user attributes may be linked to scopes of this type.
    pub fn has_claims(self) -> bool {
        matches!(self, ScopeType::OpenId | ScopeType::Dynamic)
    }
}

/// The OpenID Connect Core §5.4 scopes, present from the first start. Their claims may be
/// changed; they cannot be deleted.
pub const STANDARD_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];
