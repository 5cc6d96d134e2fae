// The authorization code flow as a web app runs it: npm openid-client (strict, with
// enableNonRepudiationChecks) as the relying party and headless Debian Chromium, driven by
// playwright-core, signing a user in through Tessera's real login and consent pages.
// A pushed authorization request (RFC 9126) signs in again, and so does a client registered
// with dynamicClientRegistration (RFC 7591), one more binds its tokens to a DPoP key, and a
// device (RFC 8628) is approved in the browser while openid-client polls. The last test logs the session
// out (RP-initiated, front- and back-channel logout).
// Started by tests/tests/e2e_browser.rs, which passes the server, client and user in TESSERA_E2E.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, importPKCS8, jwtVerify } from 'jose';

const env = JSON.parse(process.env.TESSERA_E2E);
const REDIRECT = env.redirect_uri; // a callback page the test serves on loopback
const SCOPE = 'openid profile email offline_access';
let browser;
let context;
let config;

before(async () => {
  config = await client.discovery(
    new URL(env.issuer),
    env.client_id,
    env.client_secret,
    client.ClientSecretBasic(env.client_secret),
    { execute: [client.allowInsecureRequests] }, // plain http on loopback
  );
  client.enableNonRepudiationChecks(config);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext();
});

after(async () => {
  await browser?.close();
});

/** Fresh authorization request parameters (PKCE, state, nonce) and the checks the RP keeps. */
async function authorizationParameters(scope = SCOPE) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = client.randomNonce();
  const params = {
    redirect_uri: REDIRECT,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  };
  return { params, checks: { pkceCodeVerifier, expectedState, expectedNonce, idTokenExpected: true } };
}

/** Starts an authorization request; returns what the RP keeps and the URL to open. */
async function startAuthorization(cfg = config, scope = SCOPE) {
  const { params, checks } = await authorizationParameters(scope);
  return { url: client.buildAuthorizationUrl(cfg, params), checks };
}

/** Opens `url` in Chromium, signs in and consents when the pages appear; returns the callback URL. */
async function browse(url, { login = true, consent = true, scope = SCOPE } = {}) {
  const page = await context.newPage();
  const first = await page.goto(url.href);
  if (login) {
    const h = first.headers();
    assert.equal(h['cache-control'], 'no-store');
    assert.equal(h['x-frame-options'], 'DENY');
    assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
    await page.fill('#username', env.username);
    await page.fill('#password', env.password);
    await Promise.all([page.waitForLoadState(), page.click('#login')]);
  }
  if (consent) {
    await page.waitForSelector('#allow');
    const scopes = await page.locator('li[data-scope]').evaluateAll((els) => els.map((e) => e.dataset.scope));
    assert.deepEqual(scopes, scope.split(' '));
    await page.click('#allow');
  }
  await page.waitForURL((u) => u.href.startsWith(REDIRECT));
  const callback = new URL(page.url());
  await page.close();
  return callback;
}

async function assertInactive(token) {
  const r = await client.tokenIntrospection(config, token);
  assert.equal(r.active, false);
}

async function assertInvalidGrant(promise) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.error, 'invalid_grant');
    return true;
  });
}

test('sign-in, ID token, userinfo, refresh rotation, code replay revokes the grant', async () => {
  const { url, checks } = await startAuthorization();
  const callback = await browse(url);
  assert.equal(callback.searchParams.get('iss'), env.issuer);
  // authorizationCodeGrant checks state, iss (RFC 9207), PKCE, the nonce, and verifies the
  // ID token signature against the JWKS (enableNonRepudiationChecks).
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  const claims = tokens.claims();
  assert.equal(claims.iss, env.issuer);
  assert.equal(claims.aud, env.client_id);
  assert.equal(claims.sub, env.sub);
  assert.equal(claims.nonce, checks.expectedNonce);
  assert.ok(claims.sid && claims.at_hash && claims.acr);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, env.email);
  assert.equal(info.name, env.name);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated');
  assert.equal(refreshed.claims().sub, claims.sub);
  assert.equal((await client.tokenIntrospection(config, refreshed.refresh_token)).active, true);

  // Replaying the code: invalid_grant, and the grant's refresh token is dead.
  await assertInvalidGrant(client.authorizationCodeGrant(config, callback, checks));
  await assertInactive(refreshed.refresh_token);
  await assertInactive(refreshed.access_token);
});

test('second sign-in reuses the session and consent; reusing a rotated refresh token revokes the grant', async () => {
  const { url, checks } = await startAuthorization();
  const callback = await browse(url, { login: false, consent: false });
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  const rotated = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal((await client.tokenIntrospection(config, rotated.access_token)).active, true);
  await assertInvalidGrant(client.refreshTokenGrant(config, tokens.refresh_token));
  await assertInactive(rotated.refresh_token);
  await assertInactive(rotated.access_token);
});

test('pushed authorization request (RFC 9126): buildAuthorizationUrlWithPAR, the request_uri used once', async () => {
  const { params, checks } = await authorizationParameters();
  const url = await client.buildAuthorizationUrlWithPAR(config, params);
  // Only client_id and the request_uri travel through the browser.
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  assert.match(url.searchParams.get('request_uri'), /^urn:ietf:params:oauth:request_uri:/);
  const callback = await browse(url, { login: false, consent: false });
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  assert.equal(tokens.claims().sub, env.sub);
  assert.equal(tokens.claims().nonce, checks.expectedNonce);
  // The same request_uri a second time: an error page, no redirect to the RP.
  const page = await context.newPage();
  const again = await page.goto(url.href);
  assert.equal(again.status(), 400);
  assert.equal(await page.locator('[data-error]').getAttribute('data-error'), 'invalid_request_uri');
  await page.close();
});

test('a custom scope and a dynamic scope (Rust plugin) release their claims in userinfo and the ID token', async () => {
  // A second RP, registered with "Include claims in id_token"; the browser's session is reused.
  const c = env.claims_client;
  const cfg = await client.discovery(
    new URL(env.issuer),
    c.client_id,
    c.client_secret,
    client.ClientSecretBasic(c.client_secret),
    { execute: [client.allowInsecureRequests] },
  );
  client.enableNonRepudiationChecks(cfg);
  const scope = 'openid badge groups';
  const { url, checks } = await startAuthorization(cfg, scope);
  const callback = await browse(url, { login: false, scope });
  const tokens = await client.authorizationCodeGrant(cfg, callback, checks);
  assert.equal(tokens.scope, scope);
  const claims = tokens.claims(); // the ID token, verified against the JWKS
  assert.equal(claims.badge_no, env.badge_no); // custom scope over a custom attribute
  assert.deepEqual(claims.memberOf, env.member_of); // dynamic scope served by member-of
  assert.equal(claims.email, undefined); // email was not granted
  const info = await client.fetchUserInfo(cfg, tokens.access_token, claims.sub);
  assert.equal(info.badge_no, env.badge_no);
  assert.deepEqual(info.memberOf, env.member_of);
  assert.deepEqual(Object.keys(info).sort(), ['badge_no', 'memberOf', 'sub']);
});

test('DPoP (RFC 9449): a code flow with tokens bound to a key of openid-client, userinfo with the DPoP scheme, the token useless as a bearer token', async () => {
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const { url, checks } = await startAuthorization();
  const callback = await browse(url, { login: false, consent: false });
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  assert.equal(info.email, env.email);
  const stolen = await fetch(config.serverMetadata().userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(stolen.status, 401);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  assert.equal(refreshed.token_type, 'dpop');
  const introspected = await client.tokenIntrospection(config, refreshed.access_token);
  assert.equal(introspected.cnf.jkt, await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256'));
});

test('JWT-secured authorization request (RFC 9101): buildAuthorizationUrlWithJAR signs the request, the user signs in', async () => {
  const c = env.jar;
  const cfg = await rp(c);
  const key = await importPKCS8(c.private_key_pem, 'ES256');
  const { params, checks } = await authorizationParameters();
  const url = await client.buildAuthorizationUrlWithJAR(cfg, params, { key, kid: c.kid });
  // Only client_id and the signed request travel through the browser.
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request']);
  const callback = await browse(url, { login: false });
  const tokens = await client.authorizationCodeGrant(cfg, callback, checks);
  assert.equal(tokens.claims().sub, env.sub);
  assert.equal(tokens.claims().nonce, checks.expectedNonce);
});

test('device authorization (RFC 8628): initiateDeviceAuthorization, the user approves in Chromium, pollDeviceAuthorizationGrant', async () => {
  const cfg = await client.discovery(new URL(env.issuer), env.device.client_id, undefined, client.None(),
    { execute: [client.allowInsecureRequests] });
  const scope = 'openid email offline_access';
  const response = await client.initiateDeviceAuthorization(cfg, { scope });
  assert.match(response.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  const polling = client.pollDeviceAuthorizationGrant(cfg, response);
  // The user opens the complete URI (a QR code, say), confirms the code, and consents; the
  // browser's session is reused.
  const page = await context.newPage();
  await page.goto(response.verification_uri_complete);
  assert.equal(await page.inputValue('#user_code'), response.user_code);
  await Promise.all([page.waitForLoadState(), page.click('#continue')]);
  await page.waitForSelector('#allow');
  const scopes = await page.locator('li[data-scope]').evaluateAll((els) => els.map((e) => e.dataset.scope));
  assert.deepEqual(scopes, scope.split(' '));
  await page.click('#allow');
  await page.waitForSelector('[data-device="approved"]');
  await page.close();
  const tokens = await polling;
  assert.equal(tokens.claims().sub, env.sub);
  assert.equal(tokens.scope, scope);
  const info = await client.fetchUserInfo(cfg, tokens.access_token, env.sub);
  assert.equal(info.email, env.email);
  const refreshed = await client.refreshTokenGrant(cfg, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
});

test('dynamic client registration (RFC 7591) with openid-client, the new client signs the user in; RFC 7592 read and delete', async () => {
  const cfg = await client.dynamicClientRegistration(
    new URL(env.issuer),
    {
      redirect_uris: [REDIRECT],
      client_name: 'Registered by openid-client',
      grant_types: ['authorization_code', 'refresh_token'],
    },
    undefined, // openid-client's default client authentication for the secret it receives
    { initialAccessToken: env.initial_access_token, execute: [client.allowInsecureRequests] },
  );
  const meta = cfg.clientMetadata();
  assert.equal(typeof meta.client_secret, 'string');
  assert.equal(meta.client_secret_expires_at, 0);
  assert.equal(meta.registration_client_uri, `${env.issuer}/register/${meta.client_id}`);
  client.enableNonRepudiationChecks(cfg);
  // The browser's session is reused; the new client needs the user's consent.
  const { url, checks } = await startAuthorization(cfg);
  const callback = await browse(url, { login: false });
  const tokens = await client.authorizationCodeGrant(cfg, callback, checks);
  assert.equal(tokens.claims().sub, env.sub);
  assert.equal(tokens.claims().aud, meta.client_id);
  const info = await client.fetchUserInfo(cfg, tokens.access_token, tokens.claims().sub);
  assert.equal(info.email, env.email);

  const auth = { authorization: `Bearer ${meta.registration_access_token}` };
  const read = await fetch(meta.registration_client_uri, { headers: auth });
  assert.equal(read.status, 200);
  assert.equal((await read.json()).client_name, 'Registered by openid-client');
  const gone = await fetch(meta.registration_client_uri, { method: 'DELETE', headers: auth });
  assert.equal(gone.status, 204);
  // Deleting the client revoked what it held.
  await assertInactive(tokens.access_token);
  await assertInactive(tokens.refresh_token);
  assert.equal((await fetch(meta.registration_client_uri, { headers: auth })).status, 401);
});

/** An RP's configuration from discovery, as a new user writes it (defaults, Basic auth). */
async function rp(c) {
  return client.discovery(
    new URL(env.issuer),
    c.client_id,
    c.client_secret,
    client.ClientSecretBasic(c.client_secret),
    { execute: [client.allowInsecureRequests] },
  );
}

test('RP-initiated logout: front-channel iframe, back-channel logout token, post-logout redirect with state', async () => {
  const front = await rp(env.logout.front);
  const back = await rp(env.logout.back);
  // Both RPs sign in through the browser's one session (each asks for consent once).
  const signIn = async (cfg) => {
    const { url, checks } = await startAuthorization(cfg);
    return client.authorizationCodeGrant(cfg, await browse(url, { login: false }), checks);
  };
  const fromFront = await signIn(front);
  const fromBack = await signIn(back);
  const { sid } = fromFront.claims();
  assert.ok(sid);
  assert.equal(fromBack.claims().sid, sid);

  const state = client.randomState();
  const endUrl = client.buildEndSessionUrl(front, {
    id_token_hint: fromFront.id_token,
    post_logout_redirect_uri: env.logout.post_logout_redirect_uri,
    state,
  });
  const page = await context.newPage();
  await page.goto(endUrl.href);
  // The logout page loads the front-channel iframe, then moves on to the redirect by itself.
  await page.waitForURL((u) => u.href.startsWith(env.logout.post_logout_redirect_uri));
  assert.equal(new URL(page.url()).searchParams.get('state'), state);
  await page.close();

  const seenFront = await (await fetch(env.logout.front_seen)).json();
  assert.deepEqual(seenFront.frontchannel, [{ iss: env.issuer, sid }]);
  const seenBack = await (await fetch(env.logout.back_seen)).json();
  assert.equal(seenBack.backchannel.length, 1);
  assert.deepEqual(seenBack.frontchannel, []);
  // The logout token, verified as a back-channel RP must (Back-Channel Logout 1.0, 2.6).
  const jwks = createRemoteJWKSet(new URL(back.serverMetadata().jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(seenBack.backchannel[0], jwks, {
    issuer: env.issuer,
    audience: env.logout.back.client_id,
    typ: 'logout+jwt',
    requiredClaims: ['iat', 'exp', 'jti', 'events', 'sid'],
  });
  assert.equal(protectedHeader.typ, 'logout+jwt');
  assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
  assert.equal(payload.sid, sid);
  assert.equal(payload.sub, env.sub);
  assert.equal(payload.nonce, undefined);

  // The session is gone: a silent sign-in gets login_required.
  const { url } = await startAuthorization(front);
  url.searchParams.set('prompt', 'none');
  const silent = await context.newPage();
  await silent.goto(url.href);
  await silent.waitForURL((u) => u.href.startsWith(REDIRECT));
  assert.equal(new URL(silent.url()).searchParams.get('error'), 'login_required');
  await silent.close();
});
