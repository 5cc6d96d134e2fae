// A strict, real relying-party library (openid-client, with jose) against a running Tessera:
// discovery, client_credentials with client_secret_basic, client_secret_post and
// private_key_jwt, introspection, revocation -> inactive (grant-wide: the refresh token of a
// revoked access token too), RFC 9701 signed introspection responses, a DPoP-bound
// client_credentials token (RFC 9449), and the JWT access token
// verified against /jwks with typ at+jwt. Started by tests/tests/e2e_openid_client.rs, which passes the
// server and its clients in TESSERA_E2E.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';

const env = JSON.parse(process.env.TESSERA_E2E);
const issuer = new URL(env.issuer);
const insecure = { execute: [client.allowInsecureRequests] }; // the test server is plain http on loopback

async function configFor(c, auth) {
  return client.discovery(issuer, c.client_id, undefined, auth, insecure);
}

async function verifyAccessToken(config, token, clientId) {
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri), {
    [jose.customFetch]: fetch,
  });
  const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
    issuer: env.issuer,
    audience: clientId,
    typ: 'at+jwt',
    requiredClaims: ['jti', 'client_id', 'exp', 'iat', 'sub'],
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(payload.client_id, clientId);
  return payload;
}

test('discovery', async () => {
  const config = await configFor(env.basic, client.ClientSecretBasic(env.basic.client_secret));
  const md = config.serverMetadata();
  assert.equal(md.issuer, env.issuer);
  assert.ok(md.token_endpoint.startsWith(env.issuer));
  assert.ok(md.introspection_endpoint);
  assert.ok(md.revocation_endpoint);
  assert.deepEqual(md.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']);
  assert.equal(md.authorization_response_iss_parameter_supported, true);
});

for (const [name, auth] of [
  ['client_secret_basic', () => client.ClientSecretBasic(env.basic.client_secret)],
  ['client_secret_post', () => client.ClientSecretPost(env.post.client_secret)],
  ['private_key_jwt', async () => {
    const key = await jose.importPKCS8(env.pkjwt.private_key_pem, 'ES256');
    return client.PrivateKeyJwt({ key, kid: env.pkjwt.kid });
  }],
]) {
  test(`client_credentials with ${name}, introspection, revocation`, async () => {
    const c = name === 'client_secret_basic' ? env.basic : name === 'client_secret_post' ? env.post : env.pkjwt;
    const config = await configFor(c, await auth());
    const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'api.read');
    assert.ok(tokens.expiresIn() > 0);
    const claims = await verifyAccessToken(config, tokens.access_token, c.client_id);
    assert.equal(claims.scope, 'api.read');

    const active = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, c.client_id);
    assert.equal(active.scope, 'api.read');
    assert.equal(active.jti, claims.jti);

    await client.tokenRevocation(config, tokens.access_token);
    const after = await client.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual(after, { active: false });

    // A second grant is independent of the revoked one.
    const again = await client.clientCredentialsGrant(config, { scope: 'api.read api.write' });
    assert.equal((await client.tokenIntrospection(config, again.access_token)).active, true);
  });
}

test('DPoP (RFC 9449): a client_credentials token bound to a key of openid-client, cnf.jkt in the JWT and in introspection', async () => {
  const config = await configFor(env.basic, client.ClientSecretBasic(env.basic.client_secret));
  assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'));
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' }, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey), 'sha256');
  const claims = await verifyAccessToken(config, tokens.access_token, env.basic.client_id);
  assert.equal(claims.cnf.jkt, jkt);
  const active = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(active.active, true);
  assert.equal(active.token_type, 'DPoP');
  assert.equal(active.cnf.jkt, jkt);
});

test("openid-client's defaults: a bare secret (client_secret_post) for a client_secret_basic client", async () => {
  // What a new user writes: no clientAuthentication, so openid-client v6 sends the secret in the
  // form body; the client was registered with the default method, client_secret_basic.
  const config = await client.discovery(issuer, env.basic.client_id, env.basic.client_secret, undefined, insecure);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
  assert.equal(tokens.scope, 'api.read');
  await verifyAccessToken(config, tokens.access_token, env.basic.client_id);
  const active = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, env.basic.client_id);
});

test('a wrong secret is refused with invalid_client', async () => {
  const config = await configFor(env.basic, client.ClientSecretBasic('wrong'));
  // RFC 6749 §5.2: 401 with a Basic challenge, which openid-client surfaces as the challenge.
  let caught;
  await assert.rejects(client.clientCredentialsGrant(config), (err) => {
    caught = err;
    return true;
  });
  assert.equal(caught.status, 401);
  assert.equal(caught.code, 'OAUTH_WWW_AUTHENTICATE_CHALLENGE');
  assert.equal(caught.cause[0].scheme, 'basic');
  assert.equal((await caught.response.json()).error, 'invalid_client');
});

test('a scope the client may not have is refused with invalid_scope', async () => {
  const config = await configFor(env.basic, client.ClientSecretBasic(env.basic.client_secret));
  await assert.rejects(client.clientCredentialsGrant(config, { scope: 'admin' }), (err) => {
    assert.equal(err.error, 'invalid_scope');
    return true;
  });
});

test('grant-wide revocation: revoking the access token makes the refresh token inactive', async () => {
  const config = await configFor(env.web, client.ClientSecretBasic(env.web.client_secret));
  const { access_token, refresh_token } = env.web.tokens;
  assert.equal((await client.tokenIntrospection(config, refresh_token)).active, true);
  await client.tokenRevocation(config, access_token, { token_type_hint: 'access_token' });
  assert.deepEqual(await client.tokenIntrospection(config, access_token), { active: false });
  assert.deepEqual(await client.tokenIntrospection(config, refresh_token), { active: false });
  await assert.rejects(client.refreshTokenGrant(config, refresh_token), (err) => {
    assert.equal(err.error, 'invalid_grant');
    return true;
  });
});

test('RFC 9701 signed introspection responses, verified against /jwks', async () => {
  // openid-client asks for (and validates) the JWT form when the client registered
  // introspection_signed_response_alg; the non-repudiation check verifies the signature too.
  const config = await client.discovery(
    issuer,
    env.basic.client_id,
    { introspection_signed_response_alg: 'RS256' },
    client.ClientSecretBasic(env.basic.client_secret),
    insecure,
  );
  client.enableNonRepudiationChecks(config);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api.read' });
  const active = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, env.basic.client_id);
  assert.equal(active.scope, 'api.read');

  // The same response by hand: typ, iss, aud and signature checked by jose.
  const md = config.serverMetadata();
  const resp = await fetch(md.introspection_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${env.basic.client_id}:${env.basic.client_secret}`)}`,
      accept: 'application/token-introspection+jwt',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token: tokens.access_token }),
  });
  assert.equal(resp.status, 200);
  assert.equal(resp.headers.get('content-type'), 'application/token-introspection+jwt');
  const jwks = jose.createRemoteJWKSet(new URL(md.jwks_uri), { [jose.customFetch]: fetch });
  const { payload, protectedHeader } = await jose.jwtVerify(await resp.text(), jwks, {
    issuer: env.issuer,
    audience: env.basic.client_id,
    typ: 'token-introspection+jwt',
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.token_introspection.active, true);
  assert.equal(payload.token_introspection.jti, active.jti);
});
