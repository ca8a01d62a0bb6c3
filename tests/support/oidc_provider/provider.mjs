// A real OpenID provider (panva/oidc-provider) for Drift's OIDC tests.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/support/oidc.py):
//   { "issuer": "http://127.0.0.1:PORT", "port": PORT,
//     "clients": [{ "client_id": "...", "client_secret": "...", "redirect_uri": "...",
//                   "id_token_ttl": SECONDS, "id_token_alg": "RS256" }],
//     "claims": ["groups", "repository", ...],      // extra claims, released with scope "workload"
//     "jwks": { "keys": [ private JWKs with kid ] }  // the signing keys (first usable one signs)
//     "cookie_key": "..." }
// Environment overrides: OIDC_PORT, OIDC_ISSUER.
//
// Interactions (login and consent) are non-interactive but go through the real endpoints:
// GET /interaction/:uid shows a login form; POST /interaction/:uid/login with form fields
// `login` (the subject) and `claims` (a JSON object of extra claims for that subject) logs the
// subject in and grants every requested scope, then the authorization request resumes and
// redirects to the client with a code, which the client exchanges at /token for an ID token.
// Listens on 127.0.0.1 only.

import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const port = Number(process.env.OIDC_PORT ?? config.port);
const issuer = process.env.OIDC_ISSUER ?? config.issuer ?? `http://127.0.0.1:${port}`;
const extraClaims = config.claims ?? ['groups'];

// accountId -> extra claims, set by the login form; the ID token carries them.
const accounts = new Map();
const idTokenTtl = new Map(config.clients.map((c) => [c.client_id, c.id_token_ttl ?? 600]));

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: [c.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: c.id_token_alg ?? 'RS256',
  })),
  jwks: config.jwks,
  cookies: { keys: [config.cookie_key] },
  claims: { openid: ['sub'], workload: extraClaims },
  // ID tokens from the code exchange carry the scope claims (not only /userinfo).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ ...(accounts.get(sub) ?? {}), sub }),
  }),
  ttl: {
    IdToken: (ctx, token, client) => idTokenTtl.get(client.clientId) ?? 600,
    AccessToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 600,
    Grant: 600,
  },
});

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const escapeHtml = (text) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(ctx.path);
  if (!match) {
    await next();
    return;
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !match[2]) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Sign-in</title>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<input name="login" placeholder="subject"><textarea name="claims">{}</textarea>
<button type="submit">Sign-in</button></form>`;
    return;
  }
  if (ctx.method !== 'POST' || !match[2]) {
    ctx.throw(405);
  }
  const form = await readForm(ctx.req);
  const accountId = form.get('login');
  if (!accountId) ctx.throw(400, 'login is required');
  accounts.set(accountId, JSON.parse(form.get('claims') || '{}'));
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const returnTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(returnTo);
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ${issuer} listening on 127.0.0.1:${port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
