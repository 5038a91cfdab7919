// The L7 gateway of issue 14 in a sandbox, shared by its e2e test, the demo and the bench:
//   client ──mesh "l7"──▶ l7-gateway (HAProxy :80) ──mesh "web-v1"/"web-v2"──▶ HTTP backends :8080
// Each backend is an icmp-responder endpoint (addresses for the gateway's connection) with an HTTP
// server (examples/l7-gateway/http-backend.ts) in its pod; the client sends HTTP with
// examples/l7-gateway/http-load.ts run in its namespace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChainClient } from './chain.js';
import { type Daemon, type Pod, type Sandbox, SCRIPTS } from './sandbox.js';
import { sh } from './shell.js';

export const L7_SERVICE = 'l7';
export const BACKEND_PORT = 8080;
const TOOLS = join(SCRIPTS.l7Gateway, '..');
export const L7_SCRIPTS = {
  backend: join(TOOLS, 'http-backend.js'),
  load: join(TOOLS, 'http-load.js'),
  counters: join(TOOLS, 'counters.js'),
};

export interface L7Backend {
  /** The network service it serves (a backendRef's name). */
  service: string;
  /** The HTTP status it answers every request with (default 200). */
  status?: number;
}

export interface L7Mesh {
  gateway: Pod;
  gatewayDaemon: Daemon;
  backends: Pod[];
  client: Pod;
  /** The gateway's address on the client's connection: http://<gatewayIP>/ reaches HAProxy. */
  gatewayIP: string;
  routesFile: string;
  statsSocket: string;
}

/** What examples/l7-gateway/http-load.ts prints (its last line, JSON). */
export interface LoadResult {
  requests: number;
  failed: number;
  statuses: Record<string, number>;
  backends: Record<string, number>;
  errors: string[];
  p50Ms: number;
  p99Ms: number;
  rps: number;
}

/** Starts backends, the gateway (routes from `routes`) and a client of it, all on node1. */
export async function startL7(sb: Sandbox, routes: string, backends: L7Backend[]): Promise<L7Mesh> {
  const node = sb.node('node1');
  const routesFile = join(sb.runDir, 'l7-routes.yaml');
  writeFileSync(routesFile, routes);
  const pods: Pod[] = [];
  for (const [i, b] of backends.entries()) {
    const pod = await sb.addPod(node, b.service);
    await sb.startEndpoint(pod, {
      NSM_SERVICE_NAMES: b.service,
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: `172.16.${30 + i}.0/24`,
    });
    await sb.spawn(
      `echo-http-${b.service}`,
      pod.netns,
      L7_SCRIPTS.backend,
      {
        HTTP_BACKEND_NAME: b.service,
        HTTP_BACKEND_PORT: String(BACKEND_PORT),
        HTTP_BACKEND_STATUS: String(b.status ?? 200),
      },
      (l) => l.includes('"msg":"http-backend serving"'),
    );
    pods.push(pod);
  }
  const gateway = await sb.addPod(node, 'l7-gateway');
  const runDir = join(sb.runDir, 'l7-gateway');
  const gatewayDaemon = await sb.startCnf(gateway, SCRIPTS.l7Gateway, {
    NSM_SERVICE_NAMES: L7_SERVICE,
    NSM_PAYLOAD: 'IP',
    NSM_CIDR_PREFIX: '172.16.40.0/24',
    NSM_L7_ROUTES: routesFile,
    NSM_L7_RUN_DIR: runDir,
  });
  const { pod: client, conn } = await startChainClient(sb, `kernel://${L7_SERVICE}/nsm-1`, 'http-client');
  const gatewayIP = conn.context?.ipContext?.dstIpAddrs[0]?.split('/')[0];
  if (!gatewayIP) throw new Error('the client connection to the gateway has no address');
  return {
    gateway,
    gatewayDaemon,
    backends: pods,
    client,
    gatewayIP,
    routesFile,
    statsSocket: join(runDir, 'haproxy.sock'),
  };
}

/** Runs http-load.ts in the pod's namespace with `args` (see its header). */
export async function httpLoad(pod: Pod, args: string[]): Promise<LoadResult> {
  const out = await sh('ip', ['netns', 'exec', pod.netns, process.execPath, L7_SCRIPTS.load, ...args]);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadResult;
}

/** HAProxy's per-rule, per-backend counters (counters.ts). */
export async function l7Counters(
  mesh: L7Mesh,
): Promise<{ rule: string; backend: string; requests: number; retries: number }[]> {
  const out = await sh(process.execPath, [L7_SCRIPTS.counters, mesh.statsSocket]);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}
