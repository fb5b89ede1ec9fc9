// A real OpenID Provider for Motcua's OIDC login: tests (tests/integration/oidc_provider.py) and local
// development only, never production. It is panva/oidc-provider (certified OpenID Connect) with:
//
//   * issuer http://127.0.0.1:<OIDC_DEV_PORT>, listening on 127.0.0.1 only;
//   * one confidential client (client_secret_basic) from OIDC_DEV_CLIENT_ID / OIDC_DEV_CLIENT_SECRET /
//     OIDC_DEV_REDIRECT_URIS (space- or comma-separated), authorization code flow, PKCE (S256) required;
//   * scopes `openid profile email`, claims `preferred_username`, `name`, `email` (and `email_verified`);
//   * accounts from the JSON file OIDC_DEV_ACCOUNTS:
//       { "<username>": { "password": "…", "sub": "<optional, default the username>",
//                         "name": "…", "email": "…" }, … }
//     `preferred_username` is the username unless the entry gives its own;
//   * a small login + consent interaction of its own (oidc-provider's built-in devInteractions accept any
//     password): the password is checked against the accounts file.
//
// Signing keys (RS256) are generated at start, so every start is a fresh provider. Stop it with SIGTERM.
// Prints "oidc-dev listening on <issuer>" when ready.

import { generateKeyPairSync, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-dev: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number.parseInt(required('OIDC_DEV_PORT'), 10);
const clientId = required('OIDC_DEV_CLIENT_ID');
const clientSecret = required('OIDC_DEV_CLIENT_SECRET');
const redirectUris = required('OIDC_DEV_REDIRECT_URIS').split(/[\s,]+/).filter(Boolean);
const accounts = JSON.parse(readFileSync(required('OIDC_DEV_ACCOUNTS'), 'utf8'));
const issuer = `http://127.0.0.1:${port}`;

const bySub = new Map();
for (const [username, entry] of Object.entries(accounts)) {
  bySub.set(entry.sub ?? username, { username, ...entry });
}

function claimsOf(account) {
  const claims = { sub: account.sub ?? account.username, preferred_username: account.preferred_username ?? account.username };
  if (account.name !== undefined) claims.name = account.name;
  if (account.email !== undefined) {
    claims.email = account.email;
    claims.email_verified = account.email_verified ?? true;
  }
  return claims;
}

function passwordMatches(account, password) {
  // compare digests: constant time whatever the lengths
  const a = createHash('sha256').update(String(account?.password ?? randomBytes(16).toString('hex'))).digest();
  const b = createHash('sha256').update(String(password ?? '')).digest();
  return account !== undefined && timingSafeEqual(a, b);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = bySub.get(sub);
    if (account === undefined) return undefined;
    return { accountId: sub, claims: async () => claimsOf(account) };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Lỗi / Error', `<pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
  },
});

// ---------------------------------------------------------------------------------------------- interactions

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(title, body) {
  return `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, error, username = '') {
  return page('Đăng nhập / Sign in', `${error ? `<p class="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label>Tên đăng nhập / Username <input name="username" value="${escape(username)}" autofocus></label>
  <label>Mật khẩu / Password <input type="password" name="password"></label>
  <button type="submit">Đăng nhập / Sign in</button>
</form>`);
}

function consentForm(uid, clientName, scopes) {
  return page('Cho phép / Authorize', `<p>${escape(clientName)}: ${escape(scopes.join(' '))}</p>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Cho phép / Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Từ chối / Deny</button></form>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
  const { prompt, params, session } = details;

  if (req.method === 'GET' && action === undefined) {
    if (prompt.name === 'login') return send(res, 200, loginForm(uid));
    if (prompt.name === 'consent') return send(res, 200, consentForm(uid, params.client_id, String(params.scope).split(' ')));
    return send(res, 501, page('Not implemented', escape(prompt.name)));
  }
  if (req.method !== 'POST') return send(res, 405, page('Method not allowed', ''));

  if (action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const account = Object.hasOwn(accounts, username) ? { username, ...accounts[username] } : undefined;
    if (!passwordMatches(account, form.get('password'))) {
      return send(res, 200, loginForm(uid, 'Sai tên đăng nhập hoặc mật khẩu. / Wrong username or password.', username));
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub ?? username } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    if (prompt.details.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  return send(res, 400, page('Bad request', escape(`${action} during ${prompt.name}`)));
}

const callback = provider.callback();
const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?$/;

const server = createServer(async (req, res) => {
  const match = INTERACTION.exec(new URL(req.url, issuer).pathname);
  if (match === null) return callback(req, res);
  try {
    return await interaction(req, res, match[1], match[2]);
  } catch (err) {
    if (!res.headersSent) send(res, err.statusCode ?? 500, page('Lỗi / Error', escape(err.message)));
    return undefined;
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-dev listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
