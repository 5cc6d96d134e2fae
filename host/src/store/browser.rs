//! Storage for the browser flows: users, sessions, pending authorization requests, remembered
//! consent, authorization codes (single use) and refresh-token rotation. Every "use once" step
//! is one conditional UPDATE, so two concurrent uses cannot both succeed.

use super::batch::insert_tokens;
use super::{Columns, FromColumns, Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use crate::model::{AuthContext, Grant, TokenRecord, User};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored browser session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The public session id (`sid`).
    pub session_id: String,
    /// The user.
    pub user_id: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The ACR the login satisfied.
    pub acr: String,
    /// RFC 8176 methods used.
    pub amr: Vec<String>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last use.
    pub last_used_at: UnixTime,
    /// Absolute expiry.
    pub expires_at: UnixTime,
}

/// A pushed authorization request (RFC 9126).
#[derive(Debug, Clone)]
pub struct PushedRow {
    /// SHA-256 of the `request_uri`.
    pub request_uri_hash: String,
    /// The client that pushed it.
    pub client_id: String,
    /// The request's parameters, a JSON array of `[name, value]` pairs.
    pub params: String,
    /// When the `request_uri` stops working.
    pub expires_at: UnixTime,
}

/// An authorization request waiting for login or consent.
#[derive(Debug, Clone)]
pub struct PendingRow {
    /// Random id carried by the login and consent forms.
    pub request_id: String,
    /// SHA-256 of the browser-binding cookie that started it.
    pub browser_hash: String,
    /// The forms' CSRF token.
    pub csrf: String,
    /// The request and its interaction state, JSON.
    pub payload: String,
    /// When it is abandoned.
    pub expires_at: UnixTime,
    /// The client IP address that started it, when known.
    pub client_ip: Option<String>,
}

/// Remembered consent of one user to one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentRow {
    /// Scopes consented to.
    pub scopes: Vec<String>,
    /// Claims consented to individually (the OpenID `claims` parameter).
    pub claims: Vec<String>,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct CodeRow {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The grant the code will create (and that a replay revokes).
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Everything the token request needs, JSON.
    pub payload: String,
    /// Expiry.
    pub expires_at: UnixTime,
    /// When it was redeemed.
    pub used_at: Option<UnixTime>,
}

impl Store {
    // ---- users ----

    /// Stores a new user; `Conflict` if the username is taken.
    pub async fn insert_user(&self, u: &User) -> StoreResult<()> {
        let mut claims = u.claims.clone();
        claims.insert("active".into(), serde_json::Value::Bool(u.active));
        let claims =
            serde_json::to_string(&claims).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO users (user_id, username, password_hash, claims, created_at, updated_at, roles) VALUES ($1, $2, $3, $4, $5, $5, $6)")
            .bind(&u.user_id)
            .bind(&u.username)
            .bind(&u.password_hash)
            .bind(claims)
            .bind(u.created_at)
            .bind(u.roles.join(" "))
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Stores `u` if the stored user is still `expected` (its password hash, attributes and
    /// roles); `false` when it changed or is gone.
    pub async fn update_user_if(
        &self,
        u: &User,
        expected: &User,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let text = |u: &User| {
            let mut claims = u.claims.clone();
            claims.insert("active".into(), serde_json::Value::Bool(u.active));
            serde_json::to_string(&claims).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        let r = sqlx::query(
            "UPDATE users SET password_hash = $1, claims = $2, updated_at = $3, roles = $4 \
             WHERE user_id = $5 AND password_hash = $6 AND claims = $7 AND roles = $8",
        )
        .bind(&u.password_hash)
        .bind(text(u)?)
        .bind(now)
        .bind(u.roles.join(" "))
        .bind(&u.user_id)
        .bind(&expected.password_hash)
        .bind(text(expected)?)
        .bind(expected.roles.join(" "))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces a user's password hash, attributes, active flag and roles; returns whether it
    /// exists.
    pub async fn update_user(&self, u: &User, now: UnixTime) -> StoreResult<bool> {
        let mut claims = u.claims.clone();
        claims.insert("active".into(), serde_json::Value::Bool(u.active));
        let claims =
            serde_json::to_string(&claims).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let r = sqlx::query(
            "UPDATE users SET password_hash = $1, claims = $2, updated_at = $3, roles = $5 WHERE user_id = $4",
        )
        .bind(&u.password_hash)
        .bind(claims)
        .bind(now)
        .bind(&u.user_id)
        .bind(u.roles.join(" "))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Finds a user by login name.
    pub async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT user_id, username, password_hash, claims, roles, created_at FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// Finds a user by id.
    pub async fn find_user(&self, user_id: &str) -> StoreResult<Option<User>> {
        self.find_by_key(
            "SELECT user_id, username, password_hash, claims, roles, created_at FROM users WHERE user_id = $1",
            user_id,
        )
        .await
    }

    /// Finds a user by the `email` claim (exact match; the first one if several share it).
    pub async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = match self.backend() {
            super::Backend::Sqlite => {
                "SELECT user_id, username, password_hash, claims, roles, created_at FROM users WHERE json_extract(claims, '$.email') = $1 ORDER BY created_at, user_id LIMIT 1"
            }
            super::Backend::Postgres => {
                "SELECT user_id, username, password_hash, claims, roles, created_at FROM users WHERE (claims::jsonb ->> 'email') = $1 ORDER BY created_at, user_id LIMIT 1"
            }
        };
        let row = sqlx::query(sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// Finds a user by the attribute `key` names.
    pub async fn find_user_by(
        &self,
        key: crate::model::user::UserKey,
        value: &str,
    ) -> StoreResult<Option<User>> {
        use crate::model::user::UserKey;
        match key {
            UserKey::Username => self.find_user_by_username(value).await,
            UserKey::Email => self.find_user_by_email(value).await,
            UserKey::UserId => self.find_user(value).await,
        }
    }

    /// Whether any user is stored (one row read, whatever the number of users).
    pub async fn has_users(&self) -> StoreResult<bool> {
        Ok(sqlx::query("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Every user, oldest first.
    pub async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query("SELECT user_id, username, password_hash, claims, roles, created_at FROM users ORDER BY created_at, username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    // ---- sessions ----

    /// Stores a new session under `cookie_hash`, deleting the browser's previous session
    /// (`replaces`, a cookie hash) in the same transaction: the session id rotates at login.
    pub async fn insert_session(
        &self,
        s: &SessionRow,
        cookie_hash: &str,
        replaces: Option<&str>,
    ) -> StoreResult<()> {
        let amr = serde_json::to_string(&s.amr).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM sessions WHERE cookie_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO sessions (session_id, cookie_hash, user_id, auth_time, acr, amr, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&s.session_id)
            .bind(cookie_hash)
            .bind(&s.user_id)
            .bind(s.auth_time)
            .bind(&s.acr)
            .bind(amr)
            .bind(s.created_at)
            .bind(s.last_used_at)
            .bind(s.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_write)?;
        tx.commit().await?;
        Ok(())
    }

    /// Finds the session a cookie names.
    pub async fn find_session_by_cookie(
        &self,
        cookie_hash: &str,
    ) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT session_id, user_id, auth_time, acr, amr, created_at, last_used_at, expires_at FROM sessions WHERE cookie_hash = $1")
            .bind(cookie_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Finds a session by its public id.
    pub async fn find_session(&self, session_id: &str) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query("SELECT session_id, user_id, auth_time, acr, amr, created_at, last_used_at, expires_at FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Records a use of a session (for the unused-lifetime limit).
    pub async fn touch_session(&self, session_id: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE session_id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a session.
    pub async fn delete_session(&self, session_id: &str) -> StoreResult<()> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM session_clients WHERE session_id = $1",
            "DELETE FROM sessions WHERE session_id = $1",
        ] {
            sqlx::query(sql).bind(session_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session in one transaction: deletes it and its list of clients, and revokes what
    /// was issued in it: every grant of the session when `refresh_tokens` is true, otherwise
    /// only the grants' access tokens (refresh tokens live on). Returns the clients that
    /// received tokens in the session, or `None` when it no longer exists (ended already).
    pub async fn end_session(
        &self,
        session_id: &str,
        refresh_tokens: bool,
        now: UnixTime,
    ) -> StoreResult<Option<Vec<String>>> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(None);
        }
        let clients: Vec<String> = sqlx::query_scalar(
            "SELECT client_id FROM session_clients WHERE session_id = $1 ORDER BY client_id",
        )
        .bind(session_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM session_clients WHERE session_id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        if refresh_tokens {
            sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE kind = 'access_token' AND revoked_at IS NULL AND grant_id IN (SELECT grant_id FROM grants WHERE session_id = $2)")
                .bind(now)
                .bind(session_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(clients))
    }

    /// The sessions of `user_id` (of every user with `None`) that have not reached their
    /// absolute expiry at `now`, newest first.
    pub async fn list_sessions(
        &self,
        user_id: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<Vec<SessionRow>> {
        let rows = match user_id {
            Some(u) => sqlx::query("SELECT session_id, user_id, auth_time, acr, amr, created_at, last_used_at, expires_at FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, session_id")
                .bind(u)
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
            None => sqlx::query("SELECT session_id, user_id, auth_time, acr, amr, created_at, last_used_at, expires_at FROM sessions WHERE expires_at > $1 ORDER BY created_at DESC, session_id")
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
        };
        rows.iter().map(session_from_row).collect()
    }

    /// The clients that received tokens in a session.
    pub async fn session_clients(&self, session_id: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT client_id FROM session_clients WHERE session_id = $1 ORDER BY client_id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- pending authorization requests ----

    /// Stores a pending request unless its client IP address already has `max_per_ip` live
    /// ones (`false`: nothing stored). Count and insert are one statement.
    pub async fn insert_pending(
        &self,
        p: &PendingRow,
        now: UnixTime,
        max_per_ip: i64,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let r = sqlx::query(
            "INSERT INTO pending_authorizations (request_id, browser_hash, csrf, payload, expires_at, client_ip) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE (SELECT COUNT(*) FROM pending_authorizations \
             WHERE client_ip = $6 AND expires_at > $7) < $8",
        )
        .bind(&p.request_id)
        .bind(&p.browser_hash)
        .bind(&p.csrf)
        .bind(&p.payload)
        .bind(p.expires_at)
        .bind(p.client_ip.as_deref())
        .bind(now)
        .bind(max_per_ip)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(r.rows_affected() == 1)
    }

    /// Finds a pending request.
    pub async fn find_pending(&self, request_id: &str) -> StoreResult<Option<PendingRow>> {
        let row = sqlx::query("SELECT request_id, browser_hash, csrf, payload, expires_at, client_ip FROM pending_authorizations WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(PendingRow {
                request_id: r.try_get("request_id")?,
                browser_hash: r.try_get("browser_hash")?,
                csrf: r.try_get("csrf")?,
                payload: r.try_get("payload")?,
                expires_at: r.try_get("expires_at")?,
                client_ip: r.try_get("client_ip")?,
            })
        })
        .transpose()
    }

    /// Replaces a pending request's payload.
    pub async fn update_pending(&self, request_id: &str, payload: &str) -> StoreResult<()> {
        sqlx::query("UPDATE pending_authorizations SET payload = $1 WHERE request_id = $2")
            .bind(payload)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes a pending request; `false` if it was already gone (finished by another tab).
    pub async fn delete_pending(&self, request_id: &str) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM pending_authorizations WHERE request_id = $1")
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- pushed authorization requests (RFC 9126) ----

    /// Stores a pushed request's parameters (JSON) under the hash of its `request_uri`. With
    /// `per_ip` = (address, limit), nothing is stored (`false`) when that address already has
    /// `limit` live pushed requests; count and insert are one statement.
    pub async fn insert_pushed(
        &self,
        p: &PushedRow,
        now: UnixTime,
        per_ip: Option<(&str, i64)>,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let (ip, limit) = per_ip.map_or((None, i64::MAX), |(ip, n)| (Some(ip), n));
        let r = sqlx::query(
            "INSERT INTO pushed_requests (request_uri_hash, client_id, params, expires_at, client_ip) \
             SELECT $1, $2, $3, $4, $5 WHERE $5 IS NULL OR (SELECT COUNT(*) FROM pushed_requests \
             WHERE client_ip = $5 AND expires_at > $6) < $7",
        )
        .bind(&p.request_uri_hash)
        .bind(&p.client_id)
        .bind(&p.params)
        .bind(p.expires_at)
        .bind(ip)
        .bind(now)
        .bind(limit)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(r.rows_affected() == 1)
    }

    /// Records a newly generated identifier; `false` when it was issued before (by this or any
    /// other replica), so the caller draws another.
    pub async fn insert_generated_id(
        &self,
        id: &str,
        id_type: &str,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let r = sqlx::query(
            "INSERT INTO generated_ids (id, id_type, client_id, issued_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(id_type)
        .bind(client_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_write)?;
        Ok(r.rows_affected() == 1)
    }

    /// Takes a pushed request: it is deleted in the same statement, so a `request_uri` is used
    /// once even when two requests present it at the same time. Returns the client and the
    /// parameters, or `None` if it is unknown, already used or expired at `now`.
    pub async fn take_pushed(
        &self,
        request_uri_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<(String, String)>> {
        let _write = self.write_guard().await;
        let row = sqlx::query("DELETE FROM pushed_requests WHERE request_uri_hash = $1 RETURNING client_id, params, expires_at")
            .bind(request_uri_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_write)?;
        let Some(row) = row else { return Ok(None) };
        let expires_at: UnixTime = row.try_get("expires_at")?;
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some((row.try_get("client_id")?, row.try_get("params")?)))
    }

    // ---- consent ----

    /// What a user has consented to for a client.
    pub async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ConsentRow>> {
        let row =
            sqlx::query("SELECT scope, claims FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        let words = |s: Option<String>| -> Vec<String> {
            s.unwrap_or_default()
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        row.map(|r| {
            Ok(ConsentRow {
                scopes: words(r.try_get("scope")?),
                claims: words(r.try_get("claims")?),
            })
        })
        .transpose()
    }

    /// Remembers consent (the caller passes the union with what was remembered before).
    pub async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        consent: &ConsentRow,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO consents (user_id, client_id, scope, claims, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, claims = excluded.claims, updated_at = excluded.updated_at")
            .bind(user_id)
            .bind(client_id)
            .bind(consent.scopes.join(" "))
            .bind(consent.claims.join(" "))
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- authorization codes ----

    /// Stores an issued code.
    pub async fn insert_code(&self, c: &CodeRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO authorization_codes (code_hash, grant_id, client_id, payload, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&c.code_hash)
            .bind(&c.grant_id)
            .bind(&c.client_id)
            .bind(&c.payload)
            .bind(c.expires_at)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_write)?;
        Ok(())
    }

    /// Finds a code by its hash.
    pub async fn find_code(&self, code_hash: &str) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query("SELECT code_hash, grant_id, client_id, payload, expires_at, used_at FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(CodeRow {
                code_hash: r.try_get("code_hash")?,
                grant_id: r.try_get("grant_id")?,
                client_id: r.try_get("client_id")?,
                payload: r.try_get("payload")?,
                expires_at: r.try_get("expires_at")?,
                used_at: r.try_get("used_at")?,
            })
        })
        .transpose()
    }

    /// Redeems a code: marks it used and stores its grant and first tokens, atomically. Returns
    /// `false` (and stores nothing) if the code was already used, also by a concurrent request.
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &Grant,
        tokens: &[&TokenRecord],
    ) -> StoreResult<bool> {
        let _write = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_user_grant(&mut tx, grant, tokens).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Finds a grant and when it was revoked.
    pub async fn find_grant(
        &self,
        grant_id: &str,
    ) -> StoreResult<Option<(Grant, Option<UnixTime>)>> {
        self.find_by_key(
            "SELECT grant_id, client_id, subject, grant_type, scope, created_at, user_id, session_id, auth_context, resources, revoked_at FROM grants WHERE grant_id = $1",
            grant_id,
        )
        .await
    }

    // ---- refresh tokens ----

    /// Rotates a refresh token: marks it consumed and stores its successors, atomically.
    /// Returns `false` (storing nothing) if it was already consumed, also concurrently.
    /// Concurrent rotations are committed together (group commit, see `store/batch.rs`).
    pub async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        now: UnixTime,
        successors: &[&TokenRecord],
    ) -> StoreResult<bool> {
        self.grants
            .rotate(
                token_hash.to_string(),
                now,
                successors.iter().map(|t| (*t).clone()).collect(),
            )
            .await
    }
}

fn user_from_row(r: &AnyRow) -> StoreResult<User> {
    User::from_columns(r)
}

impl FromColumns for User {
    fn from_columns(r: &impl Columns) -> StoreResult<Self> {
        let claims: String = r.col("claims")?;
        let mut claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&claims)
            .map_err(|e| StoreError::Corrupt(format!("user claims: {e}")))?;
        let active = claims
            .remove("active")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        Ok(User {
            user_id: r.col("user_id")?,
            username: r.col("username")?,
            password_hash: r.col("password_hash")?,
            claims,
            active,
            roles: r
                .col::<String>("roles")?
                .split_whitespace()
                .map(String::from)
                .collect(),
            created_at: r.col("created_at")?,
        })
    }
}

/// Column names of a grant row read alone.
const GRANT_COLUMNS: [&str; 11] = [
    "grant_id",
    "client_id",
    "subject",
    "grant_type",
    "scope",
    "created_at",
    "user_id",
    "session_id",
    "auth_context",
    "resources",
    "revoked_at",
];

/// Column names of a grant's columns joined to a token row (`g_` prefixed).
pub(super) const JOINED_GRANT_COLUMNS: [&str; 11] = [
    "g_grant_id",
    "g_client_id",
    "g_subject",
    "g_grant_type",
    "g_scope",
    "g_created_at",
    "g_user_id",
    "g_session_id",
    "g_auth_context",
    "g_resources",
    "g_revoked_at",
];

impl FromColumns for (Grant, Option<UnixTime>) {
    fn from_columns(r: &impl Columns) -> StoreResult<Self> {
        grant_from_columns(r, &GRANT_COLUMNS)
    }
}

/// A grant and when it was revoked, from the columns named `c` (in [`GRANT_COLUMNS`] order).
pub(super) fn grant_from_columns(
    r: &impl Columns,
    c: &[&str; 11],
) -> StoreResult<(Grant, Option<UnixTime>)> {
    let auth: Option<String> = r.col(c[8])?;
    let auth: Option<AuthContext> = auth
        .map(|a| serde_json::from_str(&a))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("grant auth_context: {e}")))?;
    let resources: Option<String> = r.col(c[9])?;
    let resources: Vec<String> = resources
        .map(|a| serde_json::from_str(&a))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("grant resources: {e}")))?
        .unwrap_or_default();
    Ok((
        Grant {
            grant_id: r.col(c[0])?,
            client_id: r.col(c[1])?,
            subject: r.col(c[2])?,
            grant_type: r.col(c[3])?,
            scope: r.col(c[4])?,
            created_at: r.col(c[5])?,
            user_id: r.col(c[6])?,
            session_id: r.col(c[7])?,
            auth,
            resources,
        },
        r.col(c[10])?,
    ))
}

fn session_from_row(r: &AnyRow) -> StoreResult<SessionRow> {
    let amr: String = r.try_get("amr")?;
    Ok(SessionRow {
        session_id: r.try_get("session_id")?,
        user_id: r.try_get("user_id")?,
        auth_time: r.try_get("auth_time")?,
        acr: r.try_get("acr")?,
        amr: serde_json::from_str(&amr)
            .map_err(|e| StoreError::Corrupt(format!("session amr: {e}")))?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// Stores a user grant, its first tokens and the session's link to the client, inside `tx`.
pub(super) async fn insert_user_grant(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    grant: &Grant,
    tokens: &[&TokenRecord],
) -> StoreResult<()> {
    let auth = grant
        .auth
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let resources =
        serde_json::to_string(&grant.resources).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query("INSERT INTO grants (grant_id, client_id, subject, grant_type, scope, created_at, user_id, session_id, auth_context, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&grant.grant_id)
            .bind(&grant.client_id)
            .bind(grant.subject.as_deref())
            .bind(&grant.grant_type)
            .bind(&grant.scope)
            .bind(grant.created_at)
            .bind(grant.user_id.as_deref())
            .bind(grant.session_id.as_deref())
            .bind(auth)
            .bind(resources)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_write)?;
    insert_tokens(tx, tokens).await?;
    if let Some(sid) = &grant.session_id {
        sqlx::query("INSERT INTO session_clients (session_id, client_id) VALUES ($1, $2) ON CONFLICT (session_id, client_id) DO NOTHING")
                .bind(sid)
                .bind(&grant.client_id)
                .execute(&mut **tx)
                .await?;
    }
    Ok(())
}
