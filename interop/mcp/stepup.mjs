// The TypeScript MCP SDK's client against an MCP server protected by mcpauth
// (mcp_test.go starts both), authorizing at oidc-provider with the SDK's own
// interactive flow (authorization code with PKCE and a resource indicator).
// The SDK reads each 401 or 403 challenge, picks the scope it names
// (SEP-2350, SEP-835) and starts an authorization request for it; the only
// part played here is the user's browser (redirectToAuthorization: sign in
// as "alice" and consent at oidc-provider's development interactions, then
// hand the code back through transport.finishAuth and retry), as an app
// embedding the SDK does. One JSON line per tool call:
// {"tool", "ok", "text"} or {"tool", "ok": false, "error"}, then
// {"authorizations": [the scope of every authorization request]}.
//
//   node stepup.mjs MCP_URL ISSUER CLIENT_ID REDIRECT_URI TOOL...
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const [url, issuer, clientId, redirectUri, ...tools] = process.argv.slice(2);
const authorizations = [];

// browse follows an authorization request through oidc-provider's sign-in
// and consent pages, keeping its cookies, up to the redirect to the client.
async function browse(start) {
  const jar = new Map();
  let next = start;
  let form;
  for (let hop = 0; hop < 20; hop++) {
    const res = await fetch(next, {
      method: form ? 'POST' : 'GET',
      body: form,
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    form = undefined;
    const location = res.headers.get('location');
    if (location) {
      const target = new URL(location, next);
      if (target.href.startsWith(redirectUri)) {
        const code = target.searchParams.get('code');
        if (!code) throw new Error(`authorization refused: ${target.search}`);
        return code;
      }
      next = target.href;
      continue;
    }
    const page = await res.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
    if (res.status !== 200 || !prompt) throw new Error(`unexpected page ${res.status} at ${next}: ${page.slice(0, 300)}`);
    form = prompt === 'login' ? new URLSearchParams({ prompt, login: 'alice', password: 'x' }) : new URLSearchParams({ prompt });
  }
  throw new Error('too many redirects');
}

let code;
let verifier;
let tokens;
const provider = {
  get redirectUrl() { return redirectUri; },
  get clientMetadata() {
    return { client_name: 'accesstoken-stepup', redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  },
  clientInformation() { return { client_id: clientId, issuer }; },
  saveClientInformation() {},
  tokens() { return tokens; },
  saveTokens(t) { tokens = t; },
  saveCodeVerifier(v) { verifier = v; },
  codeVerifier() { return verifier; },
  async redirectToAuthorization(authorizationUrl) {
    authorizations.push(authorizationUrl.searchParams.get('scope') ?? '');
    code = await browse(authorizationUrl.href);
  },
};

let transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
// authorized runs fn; when the SDK had to send the user to the
// authorization server, it completes the authorization and runs fn again.
async function authorized(fn) {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || !code) throw err;
    const c = code;
    code = undefined;
    await transport.finishAuth(c);
    return await fn();
  }
}

let client = new Client({ name: 'accesstoken-stepup', version: '1.0.0' });
try {
  await client.connect(transport);
} catch (err) {
  // The SDK's pattern for the first authorization: finish it on the
  // transport that started it, then connect a new one (a transport starts
  // once); the provider holds the tokens.
  if (!(err instanceof UnauthorizedError) || !code) throw err;
  await transport.finishAuth(code);
  code = undefined;
  transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  client = new Client({ name: 'accesstoken-stepup', version: '1.0.0' });
  await client.connect(transport);
}
for (const tool of tools) {
  try {
    const result = await authorized(() => client.callTool({ name: tool, arguments: {} }));
    console.log(JSON.stringify({ tool, ok: !result.isError, text: result.content?.[0]?.text ?? '' }));
  } catch (err) {
    console.log(JSON.stringify({ tool, ok: false, error: String(err?.message ?? err) }));
  }
}
console.log(JSON.stringify({ authorizations }));
await client.close();
