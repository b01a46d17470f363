// Hash routes: #/ips/10.1.2.3?t=15m&mm=1. The path picks the page, the
// query carries the selections that apply to every page (time range,
// analysis slot) and the page's own (sort, page, filter), so a copied
// link or a reload shows the same view.

// parseHash splits location.hash into a path and a query object.
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?', 2);
  const query = Object.fromEntries(new URLSearchParams(qs));
  return {path: path.startsWith('/') ? path : `/${path}`, query};
}

// buildHash is the inverse of parseHash. Path segments are encoded, so an
// IPv6 address or a name with a slash stays one segment.
export function buildHash(segments, query = {}) {
  const path = typeof segments === 'string' ? segments : `/${segments.map(encodeURIComponent).join('/')}`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

// match finds the route for a path. Patterns look like /ips/:ip.
export function match(routes, path) {
  const segs = path.split('/').filter(Boolean);
  for (const route of routes) {
    const pat = route.path.split('/').filter(Boolean);
    if (pat.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pat.length && ok; i++) {
      if (pat[i].startsWith(':')) {
        try {
          params[pat[i].slice(1)] = decodeURIComponent(segs[i]);
        } catch {
          ok = false;
        }
      } else {
        ok = pat[i] === segs[i];
      }
    }
    if (ok) return {route, params};
  }
  return null;
}
