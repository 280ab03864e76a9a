// panva's oidc-provider as a real authorization server for accesstoken's
// interoperability tests. It listens on 127.0.0.1 (port from $PORT, or any),
// prints "ISSUER <url>" once it serves, and offers two test-only routes,
// guarded by $ADMIN_SECRET:
//
//   POST /__test/rotate    new signing keys, the old ones retired at once
//   POST /__test/shutdown  stop serving and exit
//   POST /__test/rs-keys   the private JWKs of the resource server's
//                          encryption keys (see below), for the Go tests
//
// With $TLS_DIR set (server.pem, server-key.pem), it also serves the same
// provider over HTTPS, asking for client certificates, and prints
// "MTLS <url>": tokens of client "mtls-client" requested there are bound to
// the client's certificate (RFC 8705).
//
// Configuration (see README.md beside this file):
//   - client "api-client": confidential, client_credentials grant;
//   - client "mcp-app": a public native app (authorization code, PKCE) for
//     the MCP scopes of mcp_test.go, signing in at the development
//     interaction pages; the MCP server's resource indicator (a loopback http
//     URL ending in /mcp) gives an ES256 JWT for that audience;
//   - clients "rs-basic" (client_secret_basic) and "rs-post"
//     (client_secret_post): the resource server's own, for introspection;
//   - resource indicators: https://api.example.test/<alg> gives an RFC 9068
//     JWT signed with <alg>; https://api.example.test/opaque an opaque token
//     for that audience; https://other.example.test a JWT for another API;
//     no resource at all, an opaque token without "aud";
//   - signing keys for RS256, PS256, ES256, ES384 and EdDSA;
//   - encrypted access tokens (JWE, nested JWT) for
//     https://api.example.test/jwe-rsa (RSA-OAEP-256, A256GCM) and
//     https://api.example.test/jwe-ec (ECDH-ES+A256KW, A128CBC-HS256), to the
//     resource server's keys "rs-rsa" and "rs-ec". In production the resource
//     server makes its keys and gives the provider the public halves; here
//     the provider makes them so that the test needs no key exchange.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const API = 'https://api.example.test';
const OTHER = 'https://other.example.test';
const SCOPES = 'orders:read orders:write';
// The MCP server of mcp_test.go, on a loopback port of the test's choosing.
const MCP_RESOURCE = /^http:\/\/127\.0\.0\.1:\d+\/mcp$/;
const MCP_SCOPES = 'mcp tools repo:read repo:admin';
const ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const adminSecret = process.env.ADMIN_SECRET || '';

let generation = 0;

// The resource server's encryption keys.
const rsKeys = {
  rsa: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ec: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
};

// signingKeys makes one RSA key (for RS256 and PS256), one P-256, one P-384
// and one Ed25519 key, under fresh key IDs.
async function signingKeys() {
  generation += 1;
  const specs = [
    ['RS256', { modulusLength: 2048 }, 'rsa'],
    ['ES256', {}, 'p256'],
    ['ES384', {}, 'p384'],
    ['EdDSA', { crv: 'Ed25519' }, 'ed25519'],
  ];
  const keys = [];
  for (const [alg, opts, name] of specs) {
    const { privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = `${name}-${generation}`;
    jwk.use = 'sig';
    keys.push(jwk);
  }
  return { keys };
}

function resourceServerInfo(ctx, indicator) {
  if (MCP_RESOURCE.test(indicator)) {
    return { scope: MCP_SCOPES, audience: indicator, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
  }
  if (indicator === OTHER) {
    return { scope: SCOPES, audience: OTHER, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
  }
  if (indicator === `${API}/jwe-rsa`) {
    return {
      scope: SCOPES, audience: indicator, accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'RS256' }, encrypt: { alg: 'RSA-OAEP-256', enc: 'A256GCM', key: rsKeys.rsa.publicKey, kid: 'rs-rsa' } },
    };
  }
  if (indicator === `${API}/jwe-ec`) {
    return {
      scope: SCOPES, audience: indicator, accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'ES256' }, encrypt: { alg: 'ECDH-ES+A256KW', enc: 'A128CBC-HS256', key: rsKeys.ec.publicKey, kid: 'rs-ec' } },
    };
  }
  if (indicator === `${API}/opaque`) {
    return { scope: SCOPES, audience: indicator, accessTokenFormat: 'opaque' };
  }
  for (const alg of ALGS) {
    if (indicator === `${API}/${alg.toLowerCase()}`) {
      return { scope: SCOPES, audience: indicator, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
    }
  }
  throw new Error(`unknown resource ${indicator}`);
}

async function newProvider(issuer) {
  return new Provider(issuer, {
    clients: [
      {
        client_id: 'api-client',
        client_secret: 'api-client-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: SCOPES,
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'mtls-client',
        client_secret: 'mtls-client-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: SCOPES,
        token_endpoint_auth_method: 'client_secret_basic',
        tls_client_certificate_bound_access_tokens: true,
      },
      {
        // The TypeScript MCP SDK's interactive client: a public native app
        // (authorization code with PKCE) redirecting to loopback.
        client_id: 'mcp-app',
        application_type: 'native',
        grant_types: ['authorization_code'],
        redirect_uris: ['http://127.0.0.1/callback'],
        response_types: ['code'],
        scope: MCP_SCOPES,
        token_endpoint_auth_method: 'none',
      },
      {
        client_id: 'rs-basic',
        client_secret: 'rs-basic-secret',
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'rs-jwt', // asks for signed introspection answers (RFC 9701)
        client_secret: 'rs-jwt-secret',
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        introspection_signed_response_alg: 'ES256',
      },
      {
        client_id: 'rs-post',
        client_secret: 'rs-post-secret',
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: await signingKeys(),
    scopes: [...SCOPES.split(' '), ...MCP_SCOPES.split(' ')],
    features: {
      // The development sign-in and consent pages (any login, no password
      // check), for the MCP client of mcp_test.go, which plays the browser.
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      jwtIntrospection: { enabled: true },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        // The certificate of the HTTPS listener's TLS connection; none over
        // plain HTTP.
        getCertificate: (ctx) => ctx.socket?.getPeerX509Certificate?.() || undefined,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: resourceServerInfo,
      },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ALGS,
      requestObjectSigningAlgValues: ALGS,
    },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  });
}

function admin(req, res) {
  const given = Buffer.from(String(req.headers['x-admin-secret'] || ''));
  const want = Buffer.from(adminSecret);
  if (req.method !== 'POST' || !adminSecret || given.length !== want.length || !crypto.timingSafeEqual(given, want)) {
    res.writeHead(403).end();
    return false;
  }
  return true;
}

let provider;
const server = http.createServer((req, res) => {
  if (req.url === '/__test/rotate') {
    if (!admin(req, res)) return;
    newProvider(provider.issuer).then((p) => {
      provider = p;
      res.writeHead(204).end();
    }, (err) => res.writeHead(500).end(String(err)));
    return;
  }
  if (req.url === '/__test/rs-keys') {
    if (!admin(req, res)) return;
    const jwks = {
      keys: [
        { ...rsKeys.rsa.privateKey.export({ format: 'jwk' }), kid: 'rs-rsa' },
        { ...rsKeys.ec.privateKey.export({ format: 'jwk' }), kid: 'rs-ec' },
      ],
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    return;
  }
  if (req.url === '/__test/shutdown') {
    if (!admin(req, res)) return;
    res.writeHead(204).end();
    server.close();
    server.closeAllConnections();
    setImmediate(() => process.exit(0));
    return;
  }
  provider.callback()(req, res);
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', async () => {
  const { port } = server.address();
  provider = await newProvider(`http://127.0.0.1:${port}`);
  if (process.env.TLS_DIR) {
    const dir = process.env.TLS_DIR;
    const tlsServer = https.createServer({
      key: fs.readFileSync(path.join(dir, 'server-key.pem')),
      cert: fs.readFileSync(path.join(dir, 'server.pem')),
      requestCert: true,
      rejectUnauthorized: false, // any client certificate; binding is what is tested
    }, (req, res) => provider.callback()(req, res));
    await new Promise((resolve) => { tlsServer.listen(0, '127.0.0.1', resolve); });
    console.log(`MTLS https://127.0.0.1:${tlsServer.address().port}`);
  }
  console.log(`ISSUER ${provider.issuer}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(0));
}
