// The REST client. The browser authenticates with the session cookie the
// login sets; state-changing requests carry the session's CSRF token, and
// every request says X-Requested-With so that a 401 never makes the
// browser pop up its Basic-auth dialog.

// ApiError is a failed request, with the API's JSON error message.
export class ApiError extends Error {
  constructor(status, message, param) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.param = param || '';
  }
}

// instancePaths are the paths that belong to an analysis instance and so
// take mm-id; the others (auth, users, system) are the device's.
function perInstance(path) {
  return path.startsWith('/API/stats') || path.startsWith('/API/data');
}

// errorOf turns a failed response into an ApiError.
export async function errorOf(resp) {
  let msg = '';
  let param = '';
  try {
    const body = await resp.json();
    msg = body.error || '';
    param = body.param || '';
  } catch {
    // not the JSON error shape (a proxy's page): the status says enough
  }
  if (!msg) msg = `${resp.status} ${resp.statusText || 'error'}`;
  if (resp.status === 429 || resp.status === 503) {
    const after = resp.headers.get('Retry-After');
    if (after) msg += ` (retry in ${after} s)`;
  }
  return new ApiError(resp.status, msg, param);
}

export class Api {
  constructor() {
    this.csrf = '';
    this.slot = 0; // analysis instance: 0 live, 1.. pcap analysis slots
    this.group = 0; // virtual link group of the statistics of that instance
    this.onUnauthorized = () => {};
  }

  // url builds a request URL; empty parameters are left out, mm-id is
  // added for the per-instance paths when a slot is selected, and the
  // selected group for the statistics of the selected slot (another
  // instance's groups are not this one's).
  url(path, params = {}, slot = this.slot) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    if (slot && perInstance(path) && !q.has('mm-id')) q.set('mm-id', `:${slot}`);
    if (this.group && slot === this.slot && path.startsWith('/API/stats') && !q.has('group')) q.set('group', String(this.group));
    const qs = q.toString();
    return qs ? `${path}?${qs}` : path;
  }

  headers(method, extra = {}) {
    const hd = {'X-Requested-With': 'XMLHttpRequest', ...extra};
    if (method !== 'GET' && method !== 'HEAD' && this.csrf) hd['X-CSRF-Token'] = this.csrf;
    return hd;
  }

  // fetch sends a request and returns the raw Response of a success;
  // failures throw an ApiError.
  async fetch(method, path, {params, body, form, slot, signal, accept = 'application/json'} = {}) {
    const extra = {Accept: accept};
    let payload;
    if (form !== undefined) {
      payload = form;
    } else if (body !== undefined) {
      extra['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let resp;
    try {
      // Against the origin: a page opened as https://user:pw@host/ cannot
      // fetch relative URLs (they would carry the credentials).
      resp = await fetch(location.origin + this.url(path, params, slot), {
        method, headers: this.headers(method, extra), body: payload, credentials: 'same-origin', signal,
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, `cannot reach the appliance (${e.message})`);
    }
    if (!resp.ok) {
      const err = await errorOf(resp);
      if (resp.status === 401 && path !== '/API/auth/login') this.onUnauthorized(err);
      throw err;
    }
    return resp;
  }

  async request(method, path, opts = {}) {
    const resp = await this.fetch(method, path, opts);
    if (resp.status === 204) return null;
    const ct = resp.headers.get('Content-Type') || '';
    return ct.includes('json') ? resp.json() : resp.text();
  }

  get(path, params, opts = {}) { return this.request('GET', path, {...opts, params}); }
  post(path, body, opts = {}) { return this.request('POST', path, {...opts, body}); }
  put(path, body, opts = {}) { return this.request('PUT', path, {...opts, body}); }
  del(path, opts = {}) { return this.request('DELETE', path, opts); }
}
