// The web admin UI end to end in headless Debian Chromium (playwright-core): an administrator
// signs in through Tessera's own login, then works every screen of seed 001's Auth Server menu:
// creates and edits a client, rotates a key and finds the new kid in /jwks, revokes another
// user's sessions (whose next prompt=none answers login_required), turns a feature flag off
// (the endpoint answers 403 and leaves discovery) and on, changes the log level, uploads a plugin
// (a wrong sha256 is refused visibly; the right one serves at once), deploys a canary whose
// differences show on its page and promotes it, and edits scopes and ACRs. A screenshot of each
// screen is written to env.screenshots. Started by tests/tests/admin_ui.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const env = JSON.parse(process.env.TESSERA_E2E);
const ISSUER = env.issuer;
let browser;
let admin; // the administrator's page
let bobContext;

before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  admin = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  admin.on('dialog', (d) => d.accept());
  bobContext = await browser.newContext();
});

after(async () => {
  await browser?.close();
});

async function shot(page, name) {
  await page.screenshot({ path: `${env.screenshots}/${name}.png`, fullPage: true });
}

async function signIn(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForLoadState('load'), page.click('#login')]);
}

async function okNotice(page) {
  const error = await page.locator('#notice-error').count();
  assert.equal(error, 0, error ? await page.textContent('#notice-error') : '');
  return (await page.textContent('#notice-ok')).trim();
}

/** A client_credentials access token's claims (the plugin under test adds to them). */
async function tokenClaims() {
  const basic = Buffer.from(`${env.cc.client_id}:${env.cc.client_secret}`).toString('base64');
  const r = await fetch(`${ISSUER}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  assert.equal(r.status, 200, await r.clone().text());
  const { access_token } = await r.json();
  return JSON.parse(Buffer.from(access_token.split('.')[1], 'base64url').toString());
}

test('an administrator signs in through Tessera login and sees the dashboard', async () => {
  const first = await admin.goto(`${ISSUER}/admin`);
  assert.match(admin.url(), /\/login\?/);
  assert.ok(first.ok());
  await signIn(admin, env.admin.username, env.admin.password);
  // No consent for the console's own client: straight to the dashboard.
  assert.equal(admin.url(), `${ISSUER}/admin`);
  const resp = await admin.reload();
  const h = resp.headers();
  assert.equal(h['x-frame-options'], 'DENY');
  assert.match(h['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/);
  assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(await admin.textContent('header .who'), env.admin.username);
  assert.equal(await admin.locator('#charts [data-series]').count(), 6);
  // The charts' script loads under the CSP and draws (no inline code needed).
  await admin.waitForFunction(() => document.querySelector('[data-series=tokens] polyline').getAttribute('points').length > 0);
  // A form without the session's CSRF token is refused.
  const forged = await admin.request.post(`${ISSUER}/admin/keys/rotate`, { form: { csrf: 'forged' } });
  assert.equal(forged.status(), 403);
  await shot(admin, 'dashboard');
});

test('clients: create one with several seed-001 fields, then edit it', async () => {
  await admin.goto(`${ISSUER}/admin/clients/new`);
  // Fields are grouped as seed 001 groups them, each with its description.
  const legends = await admin.locator('fieldset legend').allTextContents();
  for (const g of ['Basic', 'Tokens', 'Logout', 'Software info', 'CIBA / PAR / UMA', 'Advanced']) {
    assert.ok(legends.includes(g), `${g} in ${legends}`);
  }
  assert.match(await admin.textContent('label[for=f-redirect_uris] + div .help'), /Redirection URI/);
  await admin.fill('#client_id', env.new_client_id);
  await admin.fill('#f-client_name', 'Made in the console');
  await admin.fill('#f-description', 'A client the admin UI test creates');
  await admin.fill('#f-redirect_uris', 'https://app.example.com/cb\nhttps://app.example.com/cb2');
  await admin.fill('#f-grant_types', 'authorization_code\nrefresh_token');
  await admin.fill('#f-access_token_lifetime', '600');
  await admin.check('#f-require_pkce');
  await admin.fill('#f-contacts', 'ops@example.com');
  await admin.fill('#f-post_logout_redirect_uris', 'https://app.example.com/bye');
  await shot(admin, 'client-new');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-client')]);
  assert.match(await okNotice(admin), /created/);
  assert.ok((await admin.textContent('#client-secret')).trim().length >= 32);
  // Edit: rename it and set the default max authentication age.
  await admin.goto(`${ISSUER}/admin/clients/${env.new_client_id}`);
  await admin.fill('#f-client_name', 'Renamed in the console');
  await admin.fill('#f-default_max_age', '3600');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-client')]);
  assert.equal(await okNotice(admin), 'Saved.');
  await admin.goto(`${ISSUER}/admin/clients/${env.new_client_id}`);
  assert.equal(await admin.inputValue('#f-client_name'), 'Renamed in the console');
  assert.equal(await admin.inputValue('#f-default_max_age'), '3600');
  assert.equal(await admin.inputValue('#f-redirect_uris'), 'https://app.example.com/cb\nhttps://app.example.com/cb2');
  assert.ok(await admin.isChecked('#f-require_pkce'));
  await shot(admin, 'client');
  await admin.goto(`${ISSUER}/admin/clients`);
  assert.equal(await admin.locator(`tr[data-client="${env.new_client_id}"]`).count(), 1);
  await shot(admin, 'clients');
});

test('keys: a rotation publishes the new kid in /jwks', async () => {
  await admin.goto(`${ISSUER}/admin/keys`);
  const before = await admin.locator('#keys tbody tr').count();
  await Promise.all([admin.waitForLoadState('load'), admin.click('#rotate')]);
  const notice = await okNotice(admin);
  const kids = notice.replace(/^New keys: /, '').replace(/\.$/, '').split(', ');
  assert.ok(kids.length >= 1 && kids[0].length > 0, notice);
  assert.ok((await admin.locator('#keys tbody tr').count()) > before);
  const jwks = await (await fetch(`${ISSUER}/jwks`)).json();
  for (const kid of kids) {
    assert.ok(jwks.keys.some((k) => k.kid === kid), `${kid} in /jwks`);
  }
  await shot(admin, 'keys');
});

test("sessions: revoking a user's sessions makes prompt=none answer login_required", async () => {
  const bob = await bobContext.newPage();
  const authorize = (extra = '') => `${ISSUER}/authorize?response_type=code&client_id=${env.rp.client_id}`
    + `&redirect_uri=${encodeURIComponent(env.rp.redirect_uri)}&scope=openid&state=s1${extra}`;
  await bob.goto(authorize());
  await signIn(bob, env.bob.username, env.bob.password);
  if (await bob.locator('#allow').count()) {
    await Promise.all([bob.waitForLoadState('load'), bob.click('#allow')]);
  }
  assert.ok(bob.url().startsWith(env.rp.redirect_uri), bob.url());
  assert.ok(new URL(bob.url()).searchParams.get('code'));
  // Signed in: prompt=none gets a code.
  await bob.goto(authorize('&prompt=none'));
  assert.ok(new URL(bob.url()).searchParams.get('code'), bob.url());

  await admin.goto(`${ISSUER}/admin/sessions?user=${env.bob.username}`);
  assert.equal(await admin.locator('#sessions tbody tr[data-sid]').count(), 1);
  await shot(admin, 'sessions');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#revoke-user')]);
  assert.match(await okNotice(admin), /Ended 1 session/);
  assert.equal(await admin.locator('#sessions tbody tr[data-sid]').count(), 0);

  await bob.goto(authorize('&prompt=none'));
  assert.equal(new URL(bob.url()).searchParams.get('error'), 'login_required', bob.url());
  // Bob is not an administrator: the console refuses him after his sign-in.
  const resp = await bob.goto(`${ISSUER}/admin`);
  assert.match(bob.url(), /\/login\?/, `${resp.status()}`);
  await signIn(bob, env.bob.username, env.bob.password);
  assert.match(await bob.textContent('h1'), /Not an administrator/);
  await bob.close();
});

test('server configuration: a feature flag turned off answers 403 and leaves discovery', async () => {
  const introspect = () => fetch(`${ISSUER}/introspect`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${env.cc.client_id}:${env.cc.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'token=nothing',
  });
  const discovery = async () => (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  assert.equal((await introspect()).status, 200);
  assert.ok((await discovery()).introspection_endpoint);
  await admin.goto(`${ISSUER}/admin/config`);
  assert.equal(await admin.textContent('tr[data-flag=introspection] .state'), 'on');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#toggle-introspection')]);
  assert.match(await okNotice(admin), /introspection is off/);
  assert.equal(await admin.textContent('tr[data-flag=introspection] .state'), 'off');
  const refused = await introspect();
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error, 'feature_disabled');
  assert.equal((await discovery()).introspection_endpoint, undefined);
  await shot(admin, 'config');
  // A start-up property is marked, and a run-time one changes.
  assert.equal(await admin.locator('tr[data-key=listen] .badge').count(), 1);
  // Janssen's property name works as well as the setting's own key.
  assert.equal(await admin.textContent('tr[data-key="tokens.access_token_lifetime"] td:nth-child(2)'), 'accessTokenLifetime');
  await admin.fill('#key', 'accessTokenLifetime');
  await admin.fill('#value', '1200');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#set-property')]);
  assert.match(await okNotice(admin), /changed/);
  assert.equal(await admin.textContent('tr[data-key="tokens.access_token_lifetime"] td:nth-child(3)'), '1200');
  // A bad value is refused with the key.
  await admin.fill('#key', 'tokens.access_token_lifetime');
  await admin.fill('#value', '"soon"');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#set-property')]);
  assert.match(await admin.textContent('#notice-error'), /access_token_lifetime/);
  await Promise.all([admin.waitForLoadState('load'), admin.click('#toggle-introspection')]);
  assert.match(await okNotice(admin), /introspection is on/);
  assert.equal((await introspect()).status, 200);
  assert.ok((await discovery()).introspection_endpoint);
});

test('logging: the log level changes at run time', async () => {
  await admin.goto(`${ISSUER}/admin/logging`);
  await admin.fill('#level', 'info,tessera=debug');
  await admin.check('#oauth_audit');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-logging')]);
  assert.equal(await okNotice(admin), 'Logging changed.');
  assert.equal(await admin.inputValue('#level'), 'info,tessera=debug');
  assert.ok(await admin.isChecked('#oauth_audit'));
  // The audit log shows the console's own changes.
  assert.ok((await admin.locator('#audit tbody tr').count()) >= 3);
  assert.match(await admin.textContent('#audit'), /patch/);
  await shot(admin, 'logging');
});

test('plugins: a wrong sha256 is refused visibly, the right one serves at once', async () => {
  assert.equal((await tokenClaims()).tenant, undefined);
  await admin.goto(`${ISSUER}/admin/plugins`);
  await admin.setInputFiles('#manifest', env.plugin.manifest_path);
  await admin.setInputFiles('#wasm', env.plugin.wasm_path);
  await admin.fill('#sha256', '0'.repeat(64));
  await Promise.all([admin.waitForLoadState('load'), admin.click('#deploy')]);
  assert.match(await admin.textContent('#notice-error'), /^sha256: /);
  await shot(admin, 'plugins-refused');
  await admin.setInputFiles('#manifest', env.plugin.manifest_path);
  await admin.setInputFiles('#wasm', env.plugin.wasm_path);
  await admin.fill('#sha256', env.plugin.sha256);
  await Promise.all([admin.waitForLoadState('load'), admin.click('#deploy')]);
  assert.match(await okNotice(admin), /deployed/);
  assert.equal(await admin.textContent('#plugin-state'), 'loaded');
  assert.equal((await tokenClaims()).tenant, 'acme');
  await admin.goto(`${ISSUER}/admin/plugins`);
  assert.equal(await admin.textContent(`tr[data-plugin="${env.plugin.name}"] .state`), 'loaded');
  await shot(admin, 'plugins');
});

test('plugins: a canary runs in shadow, its differences show, and it is promoted', async () => {
  const page = `${ISSUER}/admin/plugins/${env.plugin.name}`;
  await admin.goto(page);
  await admin.setInputFiles('#canary-manifest', env.plugin.canary_manifest_path);
  await admin.setInputFiles('#canary-wasm', env.plugin.wasm_path);
  await admin.fill('#canary-sha256', env.plugin.sha256);
  await admin.fill('#sample_percent', '100');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#deploy-canary')]);
  assert.equal(await okNotice(admin), 'Canary deployed.');
  assert.equal(await admin.textContent('#canary-version'), '1.1.0');
  assert.equal(await admin.textContent('#canary-state'), 'running');
  // Real calls: the live answer is used, the canary's only compared.
  for (let i = 0; i < 3; i++) assert.equal((await tokenClaims()).tenant, 'acme');
  let different = 0;
  for (let i = 0; i < 50 && different < 3; i++) {
    await admin.goto(page);
    different = Number(await admin.textContent('#canary-different'));
    if (different < 3) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(different, 3);
  assert.match(await admin.textContent('#differences'), /acme[\s\S]*globex/);
  await shot(admin, 'plugin-canary');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#promote-canary')]);
  assert.match(await okNotice(admin), /promoted/);
  assert.equal(await admin.textContent('#plugin-version'), '1.1.0');
  assert.equal((await tokenClaims()).tenant, 'globex');
  await shot(admin, 'plugin');
});

test('scopes and enabled ACRs', async () => {
  await admin.goto(`${ISSUER}/admin/scopes/new`);
  await admin.fill('#id', 'console.read');
  await admin.selectOption('#scope_type', 'openid');
  await admin.fill('#description', 'Read things');
  await admin.fill('#claims', 'email\nname');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-scope')]);
  assert.equal(await okNotice(admin), 'Scope created.');
  await admin.fill('#description', 'Read many things');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-scope')]);
  assert.equal(await okNotice(admin), 'Saved.');
  assert.equal(await admin.inputValue('#description'), 'Read many things');
  await shot(admin, 'scope');
  await admin.goto(`${ISSUER}/admin/scopes`);
  assert.equal(await admin.textContent('tr[data-scope="console.read"] td:nth-child(2)'), 'openid');
  await shot(admin, 'scopes');
  await admin.goto(`${ISSUER}/admin/acrs`);
  await admin.fill('#enabled', `${env.acr}\nmfa`);
  await Promise.all([admin.waitForLoadState('load'), admin.click('#save-acrs')]);
  assert.equal(await okNotice(admin), 'Enabled ACRs changed.');
  const discovery = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  assert.deepEqual(discovery.acr_values_supported, [env.acr, 'mfa']);
  await shot(admin, 'acrs');
  // The dashboard counted this run's tokens.
  await admin.goto(`${ISSUER}/admin`);
  assert.ok(Number(await admin.textContent('#total-tokens')) >= 5);
  await shot(admin, 'dashboard-after');
  await Promise.all([admin.waitForLoadState('load'), admin.click('#signout')]);
  const after = await admin.goto(`${ISSUER}/admin/keys`);
  assert.match(admin.url(), /\/login\?/, `${after.status()}`);
});
