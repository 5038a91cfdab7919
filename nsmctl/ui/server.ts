// `nsmctl ui`: serves the topology page and keeps it live. It watches MonitorConnections on every
// nsmgr asked and on every forwarder and endpoint found; any event (or a stream that ends: a daemon
// died) re-reads the mesh, and the new topology goes to every open page over Server-Sent Events.
// A slow re-read every FALLBACK_REFRESH_MS picks up what no stream reports (a new registration).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getErrorMessage } from '../../sdk/errors/index.js';
import type { ClientPool, MonitorStream } from '../../sdk/grpc/client-pool.js';
import { describe, type Kernel, lookup, render as renderDescribe } from '../describe.js';
import { diagnose, render as renderDiagnosis } from '../diagnose.js';
import { type InspectOptions, inspect, type Snapshot } from '../inspect.js';
import { findConnection, type MeshConnection } from '../mesh.js';
import type { Prober } from '../probe.js';
import { PAGE } from './page.js';
import { type Topology, topology } from './topology.js';

/** Events closer together than this cause one re-read. */
const DEBOUNCE_MS = 150;
export const FALLBACK_REFRESH_MS = 5_000;
/** A watch that ended is opened again after this. */
const REWATCH_MS = 1_000;
/** How long a connection no daemon holds any more stays on the page (red), so its end is seen. */
const GONE_KEEP_MS = 60_000;

export interface UiOptions extends InspectOptions {
  kernel: Kernel;
  probe: Prober;
  host: string;
  port: number;
}

export interface UiServer {
  url: string;
  /** The topology the pages were last sent. */
  current(): Topology | undefined;
  close(): Promise<void>;
}

export async function startUi(o: UiOptions): Promise<UiServer> {
  let snap: Snapshot | undefined;
  let topo: Topology | undefined;
  const pages = new Set<ServerResponse>();
  const watches = new Map<string, MonitorStream>();
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const names = new Map<string, string>();
  const opts = { ...o, names };
  /** Every connection seen, with when it stopped being held (undefined: still held). */
  const seen = new Map<string, { m: MeshConnection; goneAt?: number }>();

  const watch = (pool: ClientPool, url: string) => {
    if (watches.has(url) || closed) return;
    const stream = pool.monitor(
      url,
      { pathSegments: [], networkServices: [] },
      () => schedule(),
      () => {
        watches.delete(url);
        schedule();
        setTimeout(() => watch(pool, url), REWATCH_MS).unref();
      },
    );
    watches.set(url, stream);
  };

  const read = async () => {
    const s = await inspect(opts);
    if (closed) return;
    snap = s;
    const now = Date.now();
    const held = new Set(s.connections.map((m) => m.id));
    for (const m of s.connections) seen.set(m.id, { m });
    for (const [id, e] of seen) {
      if (held.has(id)) continue;
      e.goneAt ??= now;
      if (now - e.goneAt > GONE_KEEP_MS) seen.delete(id);
    }
    topo = topology(
      s,
      [...seen.values()].filter((e) => e.goneAt !== undefined).map((e) => e.m),
    );
    const data = `data: ${JSON.stringify(topo)}\n\n`;
    for (const p of pages) p.write(data);
    for (const d of s.daemons) if (!d.error) watch(o.pool, d.url);
  };
  const refresh = (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = read()
      .catch(() => undefined)
      .finally(() => {
        reading = undefined;
        if (again && !closed) {
          again = false;
          void refresh();
        }
      });
    return reading;
  };
  function schedule() {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, DEBOUNCE_MS);
  }
  const fallback = setInterval(() => void refresh(), FALLBACK_REFRESH_MS);
  await refresh();

  const text = (res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://ui');
    if (u.pathname === '/') return text(res, 200, PAGE, 'text/html; charset=utf-8');
    if (u.pathname === '/api/topology') return text(res, 200, JSON.stringify(topo), 'application/json');
    if (u.pathname === '/api/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      pages.add(res);
      if (topo) res.write(`data: ${JSON.stringify(topo)}\n\n`);
      req.on('close', () => pages.delete(res));
      return;
    }
    const id = u.searchParams.get('id') ?? '';
    if ((u.pathname === '/api/describe' || u.pathname === '/api/diagnose') && snap) {
      try {
        const s = await inspect(opts); // the view on click is fresh, not the last pushed one
        // A connection that is gone is checked along the path it last had: which hop is missing.
        const m = findConnection(s.connections, id) ?? seen.get(id)?.m ?? lookup(s, id);
        if (u.pathname === '/api/describe')
          return text(res, 200, renderDescribe(await describe(s, m, o.kernel)));
        return text(res, 200, renderDiagnosis(await diagnose(s, m, { ...o.kernel, probe: o.probe })));
      } catch (e) {
        return text(res, 404, getErrorMessage(e));
      }
    }
    text(res, 404, `no such page: ${u.pathname}`);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => text(res, 500, getErrorMessage(e)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${addr.port}/`,
    current: () => topo,
    close: async () => {
      closed = true;
      clearInterval(fallback);
      if (timer) clearTimeout(timer);
      for (const w of watches.values()) await w.close();
      for (const p of pages) p.end();
      await new Promise<void>((r) => server.close(() => r()));
      await reading;
    },
  };
}
