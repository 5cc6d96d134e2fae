//! Strict `application/x-www-form-urlencoded` bodies: the right content type, a size limit,
//! valid UTF-8 after percent-decoding, and no repeated parameters (RFC 6749 §3.1) except those
//! a spec lets repeat (RFC 8707 `resource`). Empty values count as absent (RFC 6749 §3.1).

use crate::oauth::OAuthError;
use crate::server::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, header};
use std::collections::HashMap;

/// Parameters that may appear more than once.
pub(crate) const REPEATABLE: &[&str] = &["resource"];

/// A parsed form body (or, for GET, query string).
#[derive(Debug, Default)]
pub struct OAuthForm {
    single: HashMap<String, String>,
    multi: HashMap<String, Vec<String>>,
}

impl OAuthForm {
    /// Parses `input`, enforcing the rules above.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut form = OAuthForm::default();
        for pair in input.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let k = decode(k)?;
            let v = decode(v)?;
            if REPEATABLE.contains(&k.as_str()) {
                if !v.is_empty() {
                    form.multi.entry(k).or_default().push(v);
                }
                continue;
            }
            if form.single.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter {k} is repeated"
                )));
            }
            form.single.insert(k, v);
        }
        form.single.retain(|_, v| !v.is_empty());
        Ok(form)
    }

    /// An optional parameter.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.single.get(k).map(String::as_str)
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {k}")))
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, k: &str) -> &[String] {
        self.multi.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every parameter and value, repeatable ones once per value (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.single
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(
                self.multi
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str()))),
            )
    }

    /// A form from pairs taken from a parsed form ([`OAuthForm::iter`]): a pushed request, when
    /// it is checked and when it is read back. The pairs were checked when they were first
    /// parsed; a repeated single parameter keeps the first value.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = OAuthForm::default();
        for (k, v) in pairs {
            if REPEATABLE.contains(&k.as_str()) {
                form.multi.entry(k).or_default().push(v);
            } else {
                form.single.entry(k).or_insert(v);
            }
        }
        form
    }
}

/// The nesting depth of a JSON value: 0 for a scalar, 1 for a flat object or array. Input is
/// bounded with it where it is accepted, so that whatever we store reads back (serde_json
/// refuses documents nested deeper than 128 levels, and stored values add levels of their own).
pub fn json_depth(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Array(a) => 1 + a.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn decode(raw: &[u8]) -> Result<String, OAuthError> {
    urldecode(raw).ok_or_else(|| OAuthError::invalid_request("request is not valid UTF-8"))
}

/// One `application/x-www-form-urlencoded` name or value (also the parts of HTTP Basic client
/// credentials, RFC 6749 §2.3.1): `+` is a space, then percent-decoding, then UTF-8; `None` when
/// the result is not UTF-8. Most values (tokens, client ids, grant types) have neither `+` nor
/// `%`; they are copied once instead of being rebuilt byte by byte (a perf profile put that
/// rebuild at ~5% of introspection samples).
pub fn urldecode(raw: &[u8]) -> Option<String> {
    let decoded: std::borrow::Cow<'_, [u8]> = if raw.contains(&b'+') {
        let plus: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&plus)
            .collect::<Vec<u8>>()
            .into()
    } else {
        // Borrowed when there is no `%XX` to decode.
        percent_encoding::percent_decode(raw).into()
    };
    String::from_utf8(decoded.into_owned()).ok()
}

impl FromRequest<AppState> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET {
            return OAuthForm::parse(req.uri().query().unwrap_or("").as_bytes());
        }
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "content type must be application/x-www-form-urlencoded",
            ));
        }
        OAuthForm::parse(&read_body(req, state).await?)
    }
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"))
}

/// The request body, at most `http.max_body_bytes` of it (`PayloadTooLarge` beyond).
pub async fn read_body(req: Request, state: &AppState) -> Result<axum::body::Bytes, OAuthError> {
    let limit = state.settings().http.max_body_bytes;
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit")
            {
                OAuthError::PayloadTooLarge
            } else {
                OAuthError::invalid_request("could not read the request body")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let f = OAuthForm::parse(b"grant_type=client_credentials&scope=a+b%20c&empty=&resource=https%3A%2F%2Fx&resource=https%3A%2F%2Fy").expect("ok");
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("a b c"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.all("resource"), ["https://x", "https://y"]);
        // Each path of `decode`: nothing to decode, `%` only, `+` only, a `%` that is no escape.
        let f = OAuthForm::parse(b"t=eyJ.a-b_c~d&p=100%25&s=x+y&odd=%zz%2").expect("ok");
        assert_eq!(f.get("t"), Some("eyJ.a-b_c~d"));
        assert_eq!(f.get("p"), Some("100%"));
        assert_eq!(f.get("s"), Some("x y"));
        assert_eq!(f.get("odd"), Some("%zz%2"));
    }

    #[test]
    fn refuses_repeats_and_bad_utf8() {
        assert!(matches!(
            OAuthForm::parse(b"a=1&a=2"),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            OAuthForm::parse(b"a=&a=2"),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            OAuthForm::parse(b"a=%FF%FE"),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            OAuthForm::parse(b"a=\xff"),
            Err(OAuthError::InvalidRequest(_))
        ));
    }
}
