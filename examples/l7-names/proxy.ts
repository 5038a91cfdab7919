// A small HTTP reverse proxy that addresses mesh peers by name, run in a pod with a vL3 connection
// (`ip netns exec POD node dist/examples/l7-names/proxy.js HOST:PORT PATH_PREFIX=URL...`): requests are
// routed by path prefix (routes.ts) to upstreams named in the mesh's DNS context, e.g.
// `/api=http://api.my-vl3.:8080` and `/=http://web:8080`. The names resolve through the pod's resolver,
// which the nsc points at its DNS forwarder (NSM_DNS_RESOLV_CONF): mesh domains go to the vL3 endpoint's
// DNS server. Prints "ready" once listening and one line per request.
import { createServer, request } from 'node:http';
import { parseRoutes, pickRoute, upstreamURL } from './routes.js';

/** An upstream that does not answer within this long gets a 504. */
const UPSTREAM_TIMEOUT_MS = 5_000;

const [listen, ...routeArgs] = process.argv.slice(2);
const colon = listen?.lastIndexOf(':') ?? -1;
if (!listen || colon < 0) {
  process.stderr.write('usage: proxy.js HOST:PORT PATH_PREFIX=URL...\n');
  process.exit(2);
}
let routes: ReturnType<typeof parseRoutes>;
try {
  routes = parseRoutes(routeArgs);
} catch (e) {
  process.stderr.write(`proxy: ${(e as Error).message}\n`);
  process.exit(2);
}

const server = createServer((req, res) => {
  const path = req.url ?? '/';
  const route = pickRoute(routes, path);
  if (!route) {
    res.writeHead(404).end(`no route for ${path}\n`);
    return;
  }
  const target = upstreamURL(route, path);
  const fail = (code: number, why: string) => {
    process.stdout.write(`${req.method} ${path} -> ${target.href}: ${code} ${why}\n`);
    if (!res.headersSent) res.writeHead(code).end(`upstream ${target.host}: ${why}\n`);
    else res.destroy();
  };
  const up = request(
    target,
    { method: req.method, headers: { ...req.headers, host: target.host }, timeout: UPSTREAM_TIMEOUT_MS },
    (upRes) => {
      process.stdout.write(`${req.method} ${path} -> ${target.href}: ${upRes.statusCode}\n`);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('timeout', () => up.destroy(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS} ms`)));
  // ENOTFOUND here means the mesh's DNS does not know the name (no such member, or no mesh DNS).
  up.on('error', (e: NodeJS.ErrnoException) => fail(e.message.includes('no answer') ? 504 : 502, e.message));
  req.pipe(up);
});
server.listen(Number(listen.slice(colon + 1)), listen.slice(0, colon) || undefined, () =>
  process.stdout.write('ready\n'),
);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
