// A real OpenID provider for rusreg's tests: the certified `oidc-provider` package, configured
// like HelseID as far as rusreg sees it. Started by tests/tests/api/oidc.rs (never in production).
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json:
//   port         0 for any free port of 127.0.0.1 (the issuer is http://127.0.0.1:PORT)
//   keys_file    where the private keys are kept: a key named in `keys` and missing there is
//                generated and saved, so a restart with the same file signs with the same keys
//   keys         [{kid, alg}]: the published key set in this order (RS256, PS256 or ES256);
//                tokens are signed with the first key of the algorithm a client uses
//   resources    [{indicator, audience, scope}]: the APIs (RFC 8707 resource indicators)
//   accounts     {sub: {claims}}: people; `claims` go into their access tokens (HelseID's
//                helseid://claims/identity/pid, .../hpr/hpr_number, .../identity/security_level)
//   clients      [{metadata, alg, ttl, token_claims}]: `metadata` is the client's registration
//                (client_id, client_secret, grant_types, redirect_uris, ...), `alg` signs its
//                access tokens (default RS256), `ttl` their lifetime in seconds (default 300),
//                `token_claims` go into its client-credentials tokens (organisation numbers)
//
// When it listens it prints one line of JSON, {"issuer": "...", "port": N}, to stdout. It stops
// when its standard input closes (the test process ended) or on SIGTERM.
//
// Sign-in has no form: an authorization request names its account in `login_hint`, the
// interaction logs that account in and grants what the client asked for.

import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function generate(alg) {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' });
}

function loadKeys() {
  const stored = existsSync(config.keys_file) ? JSON.parse(readFileSync(config.keys_file, 'utf8')) : {};
  let changed = false;
  const keys = config.keys.map(({ kid, alg }) => {
    if (!stored[kid]) {
      stored[kid] = { ...generate(alg), kid, alg, use: 'sig' };
      changed = true;
    }
    return stored[kid];
  });
  if (changed) {
    writeFileSync(`${config.keys_file}.tmp`, JSON.stringify(stored));
    renameSync(`${config.keys_file}.tmp`, config.keys_file);
  }
  return keys;
}

const keys = loadKeys();
const clients = new Map(config.clients.map((c) => [c.metadata.client_id, c]));

function signingKid(alg) {
  const key = keys.find((k) => k.alg === alg);
  if (!key) throw new Error(`no key for ${alg}`);
  return key.kid;
}

function providerConfig() {
  return {
    clients: config.clients.map((c) => c.metadata),
    scopes: ['openid', ...config.resources.flatMap((r) => r.scope.split(' '))],
    jwks: { keys },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, indicator, client) {
          const resource = config.resources.find((r) => r.indicator === indicator);
          if (!resource) throw new Provider.errors.InvalidTarget();
          const entry = clients.get(client.clientId) ?? {};
          const alg = entry.alg ?? 'RS256';
          return {
            scope: resource.scope,
            audience: resource.audience,
            accessTokenTTL: entry.ttl ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg, kid: signingKid(alg) } },
          };
        },
      },
    },
    enabledJWA: {
      dPoPSigningAlgValues: ['ES256', 'RS256', 'PS256'],
    },
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      if (!config.accounts[sub]) return undefined;
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind === 'ClientCredentials') return clients.get(token.clientId)?.token_claims;
      if (token.accountId) return config.accounts[token.accountId]?.claims;
      return undefined;
    },
    // rusreg checks the clock: no leeway for anyone else.
    clockTolerance: 0,
  };
}

const server = createServer();
server.listen(config.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, providerConfig());
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    try {
      await interaction(provider, req, res);
    } catch (err) {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain');
      res.end(`interaction failed: ${err.message}`);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

// Logs in the account named by login_hint, then grants every scope and resource asked for.
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const sub = params.login_hint;
    if (!config.accounts[sub]) throw new Error('unknown login_hint');
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    return;
  }
  throw new Error(`unexpected prompt ${prompt.name}`);
}

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
