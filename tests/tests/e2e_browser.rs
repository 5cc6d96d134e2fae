//! Browser sign-in end to end: npm `openid-client` as the RP and headless Debian Chromium driven
//! by npm `playwright-core` through the real login and consent pages
//! (`tests/e2e/browser.test.mjs`), including a custom and a dynamic scope (Rust plugin) whose
//! claims the RP reads from userinfo and the validated ID token, a pushed authorization request
//! (`buildAuthorizationUrlWithPAR`), a client registered with `dynamicClientRegistration` (RFC
//! 7591) signing the user in, then read and deleted (RFC 7592), a DPoP-bound code flow with
//! userinfo (RFC 9449), a signed request object from `buildAuthorizationUrlWithJAR` (RFC 9101),
//! a device approved in the browser while openid-client polls (RFC 8628),
//! and RP-initiated logout (URL
//! from openid-client's `buildEndSessionUrl`) that loads a front-channel RP's iframe, delivers a
//! logout token to a back-channel RP (verified with `jose`), and ends at the post-logout
//! redirect with `state`. Installs what it needs: the pinned npm packages (`npm ci`) and
//! Debian's `chromium` when `/usr/bin/chromium` is missing.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use tessera_tests::rp::RecordingRp;
use tessera_tests::{Db, TestServer, e2e};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_and_chromium_sign_a_user_in() {
    tokio::task::spawn_blocking(|| {
        e2e::npm_install();
        e2e::ensure_chromium();
    })
    .await
    .unwrap();
    let srv = TestServer::start_with(Db::Sqlite, |s| {
        s.outbound.allow_internal_hosts = vec!["127.0.0.1".into()];
        // openid-client polls a device code every `interval` seconds.
        s.device.interval = 1;
    })
    .await;
    // Two RPs on loopback (two origins): one logs out through the front channel, one through
    // the back channel; the first also serves the callback and post-logout pages.
    let front = RecordingRp::start().await;
    let back = RecordingRp::start().await;
    let redirect_uri = front.url("/cb");
    let user = srv
        .user(
            "alice",
            json!({"badge_no": "B-7", "groups": ["staff", "admins"]}),
        )
        .await;
    let reg = srv
        .web_client(json!({"redirect_uris": [redirect_uri]}))
        .await;
    // A custom OpenID scope over a custom attribute, and a dynamic scope served by the Rust
    // member-of plugin, for a client that wants claims in its ID token.
    let store = srv.state.store();
    let now = srv.state.now();
    for scope in [
        json!({"id": "badge", "scope_type": "openid", "description": "Your badge", "claims": ["badge_no"]}),
        json!({"id": "groups", "scope_type": "dynamic", "description": "Your groups"}),
    ] {
        tessera::admin::scopes::create(store, scope, now)
            .await
            .unwrap();
    }
    tessera_tests::plugins::install(srv.plugins_dir(), "member-of");
    assert!(srv.reload_plugins().await.is_empty());
    let claims_client = srv
        .web_client(json!({
            "redirect_uris": [redirect_uri],
            "scope": "openid email badge groups",
            "include_claims_in_id_token": true,
        }))
        .await;
    let bye = front.url("/bye");
    let front_rp = srv
        .web_client(json!({
            "redirect_uris": [redirect_uri],
            "post_logout_redirect_uris": [bye],
            "frontchannel_logout_uri": front.url("/frontchannel"),
            "frontchannel_logout_session_required": true,
        }))
        .await;
    let back_rp = srv
        .web_client(json!({
            "redirect_uris": [redirect_uri],
            "backchannel_logout_uri": back.url("/backchannel"),
            "backchannel_logout_session_required": true,
        }))
        .await;
    // An initial access token for openid-client's dynamicClientRegistration.
    let registrar = srv
        .client(json!({"grant_types": ["client_credentials"], "scope": "dynamic_registration"}))
        .await;
    let initial_access_token = srv.access_token(&registrar).await;
    let device = srv
        .client(json!({
            "client_name": "Living-room TV",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "scope": "openid email offline_access",
        }))
        .await;
    // A client signing its authorization requests (RFC 9101) with an ES256 key.
    let jar_key = tessera_tests::EcKey::generate();
    let jar = srv
        .web_client(json!({
            "redirect_uris": [redirect_uri],
            "jwks": {"keys": [jar_key.jwk.clone()]},
            "request_object_signing_alg": "ES256",
        }))
        .await;
    let env = json!({
        "jar": {
            "client_id": jar.client.client_id,
            "client_secret": jar.secret,
            "private_key_pem": tessera_tests::pkcs8_pem(&jar_key.pkcs8),
            "kid": jar_key.jwk["kid"],
        },
        "device": {"client_id": device.client.client_id},
        "issuer": srv.base,
        "initial_access_token": initial_access_token,
        "redirect_uri": redirect_uri,
        "client_id": reg.client.client_id,
        "client_secret": reg.secret,
        "username": "alice",
        "password": "password123",
        "sub": user.user_id,
        "email": "alice@example.com",
        "name": "alice Example",
        "claims_client": {"client_id": claims_client.client.client_id, "client_secret": claims_client.secret},
        "badge_no": "B-7",
        "member_of": ["admins", "staff"],
        "logout": {
            "front": {"client_id": front_rp.client.client_id, "client_secret": front_rp.secret},
            "back": {"client_id": back_rp.client.client_id, "client_secret": back_rp.secret},
            "post_logout_redirect_uri": bye,
            "front_seen": front.url("/seen"),
            "back_seen": back.url("/seen"),
        },
    });
    e2e::run_node("browser.test.mjs", &env, 9).await;
    srv.stop().await;
}
