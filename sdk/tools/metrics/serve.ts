// Serves the registry in Prometheus text format on NSM_METRICS_LISTEN_ON (GET /metrics), with
// prom-client's default process metrics (CPU, memory, event loop lag, handles). One per process:
// the daemons are one per process, and in-process sandboxes share it (label `hop` tells them apart).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics } from 'prom-client';
import { parseNsmUrl } from '../config/index.js';
import type { Closable } from '../daemon.js';
import { registry, setMetricsEnabled } from './metrics.js';

export interface MetricsServer extends Closable {
  /** http://host:port/metrics, with the real port when 0 was asked. */
  readonly url: string;
}

let defaultsCollected = false;

/** Starts the HTTP endpoint and turns recording on; `close()` stops both. */
export async function serveMetrics(listenOn: string): Promise<MetricsServer> {
  const parsed = parseNsmUrl(listenOn, { listen: true });
  if (!parsed.ok || parsed.url.scheme !== 'tcp')
    throw new Error(`NSM_METRICS_LISTEN_ON: ${parsed.ok ? 'must be host:port' : parsed.problem}`);
  const { host, port } = parsed.url;
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: registry });
    defaultsCollected = true;
  }
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(new Error(`NSM_METRICS_LISTEN_ON: failed to listen on ${listenOn}: ${e.message}`)),
    );
    server.listen(port, host || undefined, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  setMetricsEnabled(true);
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${addr.port}/metrics`,
    close() {
      closed ??= new Promise<void>((resolve) => {
        setMetricsEnabled(false);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
