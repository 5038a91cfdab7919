// The routes of the by-name HTTP proxy: `PATH_PREFIX=URL` pairs, the longest matching prefix wins. The
// URL's host is a name that the pod's resolver answers (with the nsc's mesh DNS: `<dnsName>.<service>.`
// of a vL3 member, or the short `<dnsName>` through the search domain); it is resolved at each request,
// so a member that heals to a new address is followed.

export interface Route {
  prefix: string;
  upstream: URL;
}

/** Parses `PATH_PREFIX=URL` arguments; throws naming the bad one. */
export function parseRoutes(args: string[]): Route[] {
  if (args.length === 0)
    throw new Error('no routes: give PATH_PREFIX=URL arguments, e.g. /=http://web.my-vl3.:8080');
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    const prefix = arg.slice(0, eq);
    if (eq <= 0 || !prefix.startsWith('/'))
      throw new Error(`route "${arg}" is not PATH_PREFIX=URL (prefix starts with /)`);
    let upstream: URL;
    try {
      upstream = new URL(arg.slice(eq + 1));
    } catch {
      throw new Error(`route "${arg}": "${arg.slice(eq + 1)}" is not a URL`);
    }
    if (upstream.protocol !== 'http:') throw new Error(`route "${arg}": only http:// upstreams`);
    return { prefix, upstream };
  });
}

/** The route for a request path: the longest prefix that matches at a segment boundary. */
export function pickRoute(routes: Route[], path: string): Route | undefined {
  const matches = (p: string) =>
    p === '/' || path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`) || path.startsWith(`${p}?`);
  return routes.filter((r) => matches(r.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

/** The upstream URL for a request: the route's base with the request's path and query appended. */
export function upstreamURL(route: Route, path: string): URL {
  const base = route.upstream.pathname.replace(/\/$/, '');
  const u = new URL(route.upstream.href);
  const q = path.indexOf('?');
  u.pathname = `${base}${q < 0 ? path : path.slice(0, q)}` || '/';
  u.search = q < 0 ? '' : path.slice(q);
  return u;
}
