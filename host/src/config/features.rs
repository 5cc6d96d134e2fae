//! The 20 feature flags of Janssen's `featureFlags` (seed 000). A disabled feature's endpoint
//! answers a clear error and disappears from discovery.

use serde::{Deserialize, Serialize};

macro_rules! feature_flags {
    ($($variant:ident $field:ident $name:literal: $doc:literal;)*) => {
        /// One feature flag.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FeatureFlag {
            $(#[doc = $doc] $variant,)*
        }

        impl FeatureFlag {
            /// Every flag, in the seed's order.
            pub const ALL: &'static [FeatureFlag] = &[$(FeatureFlag::$variant,)*];

            /// The flag's name as Janssen spells it (`REVOKE_TOKEN`).
            pub fn name(self) -> &'static str {
                match self { $(FeatureFlag::$variant => $name,)* }
            }
        }

        /// Which features are on. Every flag defaults to on, as Janssen does when its
        /// `featureFlags` list is empty.
        #[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(default)]
        pub struct FeatureFlags {
            $(#[doc = $doc] pub $field: bool,)*
        }

        impl Default for FeatureFlags {
            fn default() -> Self {
                Self { $($field: true,)* }
            }
        }

        impl FeatureFlags {
            /// Whether `flag` is on.
            pub fn is_enabled(&self, flag: FeatureFlag) -> bool {
                match flag { $(FeatureFlag::$variant => self.$field,)* }
            }

            /// Turns `flag` on or off.
            pub fn set(&mut self, flag: FeatureFlag, on: bool) {
                match flag { $(FeatureFlag::$variant => self.$field = on,)* }
            }
        }
    };
}

feature_flags! {
    ActiveSession active_session "ACTIVE_SESSION": "Active session endpoint.";
    Ciba ciba "CIBA": "Client Initiated Backchannel Authentication.";
    ClientInfo clientinfo "CLIENTINFO": "Client info endpoint.";
    DeviceAuthz device_authz "DEVICE_AUTHZ": "Device authorization grant.";
    EndSession end_session "END_SESSION": "End session (RP-initiated logout) endpoint.";
    HealthCheck health_check "HEALTH_CHECK": "Health-check endpoint.";
    IdGeneration id_generation "ID_GENERATION": "ID generation endpoint.";
    Introspection introspection "INTROSPECTION": "Token introspection endpoint (RFC 7662).";
    JansConfiguration jans_configuration "JANS_CONFIGURATION": "The .well-known configuration endpoints.";
    Metric metric "METRIC": "Metric reporter.";
    Par par "PAR": "Pushed authorization requests (RFC 9126).";
    Registration registration "REGISTRATION": "Dynamic client registration endpoint.";
    RevokeSession revoke_session "REVOKE_SESSION": "Session revocation endpoint.";
    RevokeToken revoke_token "REVOKE_TOKEN": "Token revocation endpoint (RFC 7009).";
    Ssa ssa "SSA": "Software statement assertions.";
    Stat stat "STAT": "Stat service.";
    StatusSession status_session "STATUS_SESSION": "Session status endpoint.";
    U2f u2f "U2F": "Universal 2nd Factor.";
    Uma uma "UMA": "User-Managed Access.";
    Userinfo userinfo "USERINFO": "OpenID Connect userinfo endpoint.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_flags_all_default_on_and_settable() {
        assert_eq!(FeatureFlag::ALL.len(), 20);
        let mut f = FeatureFlags::default();
        for &flag in FeatureFlag::ALL {
            assert!(f.is_enabled(flag), "{}", flag.name());
            f.set(flag, false);
            assert!(!f.is_enabled(flag));
        }
    }
}
