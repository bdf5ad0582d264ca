// The API client. The page never holds a token: the owner is known by the mp_session
// cookie (HttpOnly), a public share link by the X-Share-Token header.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let shareToken = null;
let onUnauthorized = null;

export function useShareToken(token) { shareToken = token; }
export function isShare() { return shareToken !== null; }
/** Called when a protected call answers 401 (the session ended). */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function describeStatus(status) {
  if (status === 429) return 'Too many requests; please wait a moment and try again.';
  if (status === 503) return 'The server is busy or a database is out of reach; try again shortly.';
  if (status >= 500) return 'The server failed to answer; try again, and see its log if it keeps failing.';
  return `The request failed (HTTP ${status}).`;
}

export async function request(method, path, { query, body, signal, quiet401 = false } = {}) {
  let url = path;
  if (query) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
    const str = qs.toString();
    if (str) url += `?${str}`;
  }
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (shareToken) headers['X-Share-Token'] = shareToken;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    if (e?.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Could not reach the server. Check the connection and try again.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data?.error;
    const retry = Number(res.headers.get('Retry-After')) || undefined;
    const error = new ApiError(res.status, err?.code || 'http_' + res.status, err?.message || describeStatus(res.status), retry);
    if (res.status === 401 && !quiet401 && !shareToken && onUnauthorized) onUnauthorized(error);
    throw error;
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  config: () => request('GET', '/ui/config'),
  me: () => request('GET', '/auth/me', { quiet401: true }),
  updateMe: (body) => request('PATCH', '/auth/me', { body }),
  login: (email, password) => request('POST', '/auth/session', { body: { email, password }, quiet401: true }),
  logout: () => request('DELETE', '/auth/session', { quiet401: true }),
  signup: (email, password) => request('POST', '/auth/signup', { body: { email, password }, quiet401: true }),

  websites: () => request('GET', '/websites'),
  website: (id) => request('GET', `/websites/${enc(id)}`),
  createWebsite: (body) => request('POST', '/websites', { body }),
  updateWebsite: (id, body) => request('PATCH', `/websites/${enc(id)}`, { body }),
  deleteWebsite: (id) => request('DELETE', `/websites/${enc(id)}`),

  goals: (id) => request('GET', `/websites/${enc(id)}/goals`),
  createGoal: (id, body) => request('POST', `/websites/${enc(id)}/goals`, { body }),
  deleteGoal: (id, goalId) => request('DELETE', `/websites/${enc(id)}/goals/${enc(goalId)}`),
  funnels: (id) => request('GET', `/websites/${enc(id)}/funnels`),
  createFunnel: (id, body) => request('POST', `/websites/${enc(id)}/funnels`, { body }),
  deleteFunnel: (id, funnelId) => request('DELETE', `/websites/${enc(id)}/funnels/${enc(funnelId)}`),

  shares: (id) => request('GET', `/websites/${enc(id)}/shares`),
  createShare: (id, label) => request('POST', `/websites/${enc(id)}/shares`, { body: label ? { label } : {} }),
  deleteShare: (id, shareId) => request('DELETE', `/websites/${enc(id)}/shares/${enc(shareId)}`),
  share: (token) => request('GET', `/shares/${enc(token)}`, { quiet401: true }),

  /** GET /stats/{id}/{report}; report may hold a path such as 'funnels/ID'. */
  stats: (id, report, query, signal) => request('GET', `/stats/${enc(id)}/${report}`, { query, signal }),
};
