// The peer in bench/run.sh: panva's oidc-provider (OpenID Certified), installed by the harness
// from npm into target/tools/bench-peer. Two client_credentials clients: `jwt` gets ES256 JWT
// access tokens through a resource indicator (its default resource), `opaque` gets opaque
// tokens (no resource). Introspection and revocation are on. The in-memory adapter stores the
// opaque tokens (no database, unlike Tessera). Prints `listening PORT` once bound.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const API = 'https://api.bench.example';
const jwk = (type, opts, extra) => ({
  ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }),
  use: 'sig',
  ...extra,
});
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: ['jwt', 'opaque'].map((id) => ({
    client_id: id,
    client_secret: `bench-secret-${id}`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api',
  })),
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, { alg: 'RS256', kid: 'rs' }),
      jwk('ec', { namedCurve: 'P-256' }, { alg: 'ES256', kid: 'es' }),
    ],
  },
  scopes: ['api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true, allowedPolicy: async () => true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) =>
        oneOf ?? (client.clientId === 'jwt' ? API : undefined),
      getResourceServerInfo: async () => ({
        scope: 'api',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
      useGrantedResource: async () => true,
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
