//! RFC 8707 resource indicators: the syntax of a `resource` value, the rule that a token
//! request may only narrow what was authorized (§2.2), and the audience an access token gets.

use crate::model::Client;
use crate::oauth::OAuthError;

/// Checks `resource` values (absolute URIs without a fragment, RFC 8707 §2) and drops repeats.
pub fn parse(resources: &[String]) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for r in resources {
        let u = url::Url::parse(r).map_err(|_| {
            OAuthError::InvalidTarget(format!("resource {r:?} is not an absolute URI").into())
        })?;
        if u.fragment().is_some() {
            return Err(OAuthError::InvalidTarget(
                "resource must not contain a fragment".into(),
            ));
        }
        if !out.contains(r) {
            out.push(r.clone());
        }
    }
    Ok(out)
}

/// The resources of a token request: those `requested` (each of which must be among
/// `authorized`: `invalid_target` otherwise), or all of `authorized` when none is requested.
pub fn narrow(authorized: &[String], requested: &[String]) -> Result<Vec<String>, OAuthError> {
    let requested = parse(requested)?;
    if requested.is_empty() {
        return Ok(authorized.to_vec());
    }
    if let Some(bad) = requested.iter().find(|r| !authorized.contains(r)) {
        return Err(OAuthError::InvalidTarget(
            format!("resource {bad:?} was not authorized for this grant").into(),
        ));
    }
    Ok(requested)
}

/// An access token's audience: the resources, or without any the client itself plus its
/// additional audiences.
pub fn audience(client: &Client, resources: Vec<String>) -> Vec<String> {
    if !resources.is_empty() {
        return resources;
    }
    let mut aud = vec![client.client_id.clone()];
    aud.extend(client.metadata.additional_audience.iter().cloned());
    aud
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn narrowing_only() {
        let granted = v(&["https://a.example/", "https://b.example/"]);
        assert_eq!(narrow(&granted, &[]).expect("all"), granted);
        assert_eq!(
            narrow(&granted, &v(&["https://b.example/"])).expect("subset"),
            v(&["https://b.example/"])
        );
        assert!(matches!(
            narrow(&granted, &v(&["https://c.example/"])),
            Err(OAuthError::InvalidTarget(_))
        ));
        assert!(matches!(
            narrow(&[], &v(&["https://a.example/"])),
            Err(OAuthError::InvalidTarget(_))
        ));
        assert!(matches!(
            parse(&v(&["relative/path"])),
            Err(OAuthError::InvalidTarget(_))
        ));
        assert!(matches!(
            parse(&v(&["https://a.example/#f"])),
            Err(OAuthError::InvalidTarget(_))
        ));
    }
}
