//! Janssen's stat endpoint (flag STAT): for a bearer access token carrying `[stat] scope`
//! (`jans_stat`), the monthly active users and the tokens issued per client, grant type and kind
//! of the months asked for (`month`: one or several `YYYYMM` separated by spaces or commas, or
//! `start-month` and `end-month`, at most 24 months). `format`: `json` (default,
//! `{"response": {"YYYYMM": {...}}}`), `jsonmonth` (a list of months) or `openmetrics`.
//! The replica flushes its own counts first, so the answer includes everything it counted.

use crate::config::FeatureFlag;
use crate::oauth::OAuthError;
use crate::oauth::bearer::{self, BearerError};
use crate::oauth::form::OAuthForm;
use crate::oauth::token::no_store;
use crate::server::AppState;
use crate::stats::{Hll, MonthStat, month_range, parse_month};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Most months one request may ask for.
const MAX_MONTHS: usize = 24;

/// `GET /stat` and `POST /stat`.
pub async fn stat(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: OAuthForm,
) -> Result<Response, BearerError> {
    state.require(FeatureFlag::Stat)?;
    let token = bearer::from_header(&headers)?.ok_or(BearerError::Missing)?;
    bearer::scoped_caller(&state, &token, &state.settings().stat.scope).await?;
    let months = requested_months(&form)?;
    let format = form.get("format").unwrap_or("json");
    if !matches!(format, "json" | "jsonmonth" | "openmetrics") {
        return Err(
            OAuthError::invalid_request("format must be json, jsonmonth or openmetrics").into(),
        );
    }
    if let Err(e) = state.flush_stats().await {
        tracing::warn!(error = %e, "storing usage statistics before a stat request failed");
    }
    let stats = collect(&state, &months).await?;
    Ok(match format {
        "openmetrics" => {
            let mut resp = crate::metrics::encode_stats(&stats).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
            );
            no_store(resp)
        }
        "jsonmonth" => no_store(Json(Value::Array(
            stats
                .iter()
                .map(|m| {
                    let mut v = month_json(m);
                    v["month"] = json!(m.month);
                    v
                })
                .collect(),
        ))),
        _ => {
            let response: Map<String, Value> = stats
                .iter()
                .map(|m| (m.month.clone(), month_json(m)))
                .collect();
            no_store(Json(json!({ "response": response })))
        }
    })
}

/// The months asked for: `month` (a list), or the `start-month`..`end-month` range; not both.
fn requested_months(form: &OAuthForm) -> Result<Vec<String>, OAuthError> {
    let bad = |d: &'static str| OAuthError::invalid_request(d);
    let parse = |s: &str| parse_month(s).ok_or_else(|| bad("months are YYYYMM"));
    let (start, end) = (form.get("start-month"), form.get("end-month"));
    let mut months = match (form.get("month"), start, end) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(bad("month and start-month/end-month are exclusive"));
        }
        (Some(list), None, None) => list
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|s| parse(s).map(|_| s.to_string()))
            .collect::<Result<Vec<_>, _>>()?,
        (None, Some(s), Some(e)) => month_range(parse(s)?, parse(e)?, MAX_MONTHS)
            .ok_or_else(|| bad("at most 24 months per request"))?,
        _ => return Err(bad("month, or start-month and end-month, is required")),
    };
    months.sort();
    months.dedup();
    if months.is_empty() {
        return Err(bad("no month was named"));
    }
    if months.len() > MAX_MONTHS {
        return Err(bad("at most 24 months per request"));
    }
    Ok(months)
}

/// Every requested month's statistics, from every replica's stored counts.
async fn collect(state: &AppState, months: &[String]) -> Result<Vec<MonthStat>, OAuthError> {
    let (first, last) = (&months[0], &months[months.len() - 1]);
    let mut by_month: BTreeMap<&str, MonthStat> = months
        .iter()
        .map(|m| {
            (
                m.as_str(),
                MonthStat {
                    month: m.clone(),
                    ..MonthStat::default()
                },
            )
        })
        .collect();
    for (month, client_id, grant_type, kind, n) in state.store().stat_tokens(first, last).await? {
        if let Some(m) = by_month.get_mut(month.as_str()) {
            *m.tokens
                .entry(client_id)
                .or_default()
                .entry(grant_type)
                .or_default()
                .entry(kind)
                .or_default() += n;
        }
    }
    let mut sketches: BTreeMap<String, Hll> = BTreeMap::new();
    for (month, registers) in state.store().stat_users(first, last).await? {
        match Hll::decode(&registers) {
            Some(h) => sketches.entry(month).or_default().merge(&h),
            None => tracing::warn!(month, "ignoring malformed stored user registers"),
        }
    }
    for (month, hll) in sketches {
        if let Some(m) = by_month.get_mut(month.as_str()) {
            m.monthly_active_users = hll.count();
        }
    }
    Ok(by_month.into_values().collect())
}

/// One month as JSON: active users, tokens per grant type (all clients), tokens per client.
fn month_json(m: &MonthStat) -> Value {
    let mut per_grant: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for grants in m.tokens.values() {
        for (grant_type, kinds) in grants {
            for (kind, n) in kinds {
                *per_grant
                    .entry(grant_type)
                    .or_default()
                    .entry(kind)
                    .or_default() += n;
            }
        }
    }
    json!({
        "monthly_active_users": m.monthly_active_users,
        "token_count_per_granttype": per_grant,
        "token_count_per_client": m.tokens,
    })
}
