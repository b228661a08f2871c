// Talking to /v1: the session cookie goes with every call, each change carries the session's
// CSRF token (X-CSRF-Token), and every problem+json becomes an ApiError with a human sentence.

let current = null; // the session (GET /v1/session), once read

export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem || {};
    super(sentence(status, p));
    this.status = status;
    this.problem = p;
    this.slug = (p.type || '').split('/').pop();
    // [{field, message}] of a validation error: shown next to the fields they name.
    this.fields = Array.isArray(p.errors) ? p.errors : [];
  }
}

// The problem in words: its title and detail as a sentence, or what the status means.
export function sentence(status, p) {
  if (status === 0) return 'Allied could not be reached. Check your connection and try again.';
  if (status === 401) return 'You are not signed in (or your session has ended). Open your latest sign-in link again.';
  if (status === 429) return 'Too many requests just now. Wait a moment and try again.';
  if (status >= 500) return 'Allied could not do that just now (' + (p.title || 'server error') + '). Try again in a minute.';
  let s = p.detail || p.title || 'The request was refused (' + status + ').';
  if (p.allowed_actions && p.current_status) {
    s = 'This introduction is now ' + p.current_status + '; ' +
      (p.allowed_actions.length ? 'what can be done: ' + p.allowed_actions.join(', ') + '.' : 'nothing more can be done to it.');
  }
  if (status === 412) s = 'Someone changed this in the meantime. Reload the page to see the latest and try again.';
  if (Array.isArray(p.errors) && p.errors.length)
    s = 'Please check: ' + p.errors.map((e) => e.field.replace(/^prospect\./, '').replace(/_/g, ' ') + ' ' + e.message).join('; ') + '.';
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

async function call(method, path, body, opts = {}) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && !opts.noSession) {
    const s = current || await session();
    headers['X-CSRF-Token'] = s.csrf_token;
  }
  if (opts.ifMatch !== undefined) headers['If-Match'] = '"' + opts.ifMatch + '"';
  let r;
  try {
    r = await fetch(path, {method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)});
  } catch {
    throw new ApiError(0, null);
  }
  if (r.status === 204) return null;
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body, opts) => call('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body, opts) => call('PATCH', path, body, opts);
export const del = (path) => call('DELETE', path);

// Every item of a list (following next_cursor), up to `pages` pages of 200.
export async function all(path, pages = 10) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < pages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(path + sep + 'limit=200' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    out.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

// Who is signed in: {role, partner_id, partner_name, tenant_name, email, csrf_token, ...}.
export async function session() {
  current = await get('/v1/session');
  return current;
}

export async function signIn(token) {
  current = await call('POST', '/v1/sessions', {token}, {noSession: true});
  return current;
}

export async function signOut() {
  await del('/v1/session');
  current = null;
}

export const isStaff = (s) => s && s.role !== 'partner';
export const mayAct = (s) => s && (s.role === 'staff' || s.role === 'admin');
