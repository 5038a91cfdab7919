// What the fault scenarios share: the sandboxes they opened (closed even when a test times out),
// polling, and questions to the daemons (which connections they hold, who is registered).
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
} from '../../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { TIMING } from './timing.js';

export const SERVICE = 'faults';
export const ECHO_PORT = 7100;
/** Where the logs of a failing cell's sandbox are copied before it is closed. */
export const KEPT_LOGS_DIR = '/tmp/nsm-faults';

/** Copies the sandbox's daemon logs to KEPT_LOGS_DIR/<name>; returns where (undefined: none). */
export function keepLogs(sb: Sandbox, name: string): string | undefined {
  const dir = join(KEPT_LOGS_DIR, `${name}-${sb.id}`);
  try {
    mkdirSync(dir, { recursive: true });
    cpSync(join(sb.runDir, 'logs'), dir, { recursive: true });
    return dir;
  } catch {
    return undefined; // no logs to keep
  }
}

const open = new Set<Sandbox>();

export async function openSandbox(env: Record<string, string>): Promise<Sandbox> {
  const sb = await Sandbox.create({ nodes: 2, env });
  open.add(sb);
  return sb;
}

export async function closeSandbox(sb: Sandbox): Promise<void> {
  open.delete(sb);
  await sb.close();
}

/** Closes every sandbox a running cell still has (for a report interrupted with Ctrl-C). */
export async function closeOpenSandboxes(): Promise<void> {
  await Promise.allSettled([...open].map((sb) => closeSandbox(sb)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until<T>(
  what: () => Promise<T | undefined>,
  deadlineMs: number,
  everyMs = 50,
): Promise<T | undefined> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await what().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) return undefined;
    await sleep(everyMs);
  }
}

/** The connections a daemon's MonitorConnections holds (its INITIAL_STATE_TRANSFER). */
export async function monitoredConnections(
  url: string,
  timeoutMs = TIMING.operationMs,
): Promise<Connection[]> {
  const pool = new ClientPool();
  try {
    return await new Promise<Connection[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        void stream.close();
        reject(new Error(`no INITIAL_STATE_TRANSFER from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const stream = pool.monitor(
        url,
        { pathSegments: [], networkServices: [] },
        (ev: ConnectionEvent) => {
          if (ev.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) return;
          clearTimeout(timer);
          void stream.close();
          resolve(Object.values(ev.connections));
        },
        (err) => {
          clearTimeout(timer);
          reject(err ?? new Error(`monitor stream from ${url} ended`));
        },
      );
    });
  } finally {
    await pool.close();
  }
}

/** Names of the endpoints registered (as the nsmgr's registry proxy answers). */
export async function registeredEndpoints(node: SandboxNode): Promise<string[]> {
  const reg = newNseRegistryClient(`unix://${node.nsmgrSocket}`);
  const { ctx, cancel } = withTimeout(background(), TIMING.operationMs);
  const names: string[] = [];
  const query: NetworkServiceEndpoint = {
    name: '',
    networkServiceNames: [],
    networkServiceLabels: {},
    url: '',
    expirationTime: undefined,
    initialRegistrationTime: undefined,
    pathIds: [],
  };
  try {
    await reg.find(ctx, { networkServiceEndpoint: query, watch: false }, (r) => {
      const nse = (r as { networkServiceEndpoint?: NetworkServiceEndpoint }).networkServiceEndpoint;
      if (nse && !(r as { deleted?: boolean }).deleted) names.push(nse.name);
    });
  } finally {
    cancel();
    reg.close();
  }
  return names.sort();
}

/** The files of every socket the sandbox's endpoints listen on (as startEndpoint names them). */
export function endpointSocket(sb: Sandbox, pod: Pod): string {
  return `unix://${join(sb.runDir, pod.node.name, `nse-${pod.name}.sock`)}`;
}
