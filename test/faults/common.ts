// What the fault scenarios share: the sandboxes they opened (closed even when a test times out),
// polling, and questions to the daemons (which connections they hold, who is registered).
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { findEndpoints, monitorSnapshot } from '../../nsmctl/mesh.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
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

/** The connections a daemon's MonitorConnections holds (its INITIAL_STATE_TRANSFER; as nsmctl asks). */
export async function monitoredConnections(
  url: string,
  timeoutMs = TIMING.operationMs,
): Promise<Connection[]> {
  const pool = new ClientPool();
  try {
    return await monitorSnapshot(pool, url, timeoutMs);
  } finally {
    await pool.close();
  }
}

/** Names of the endpoints registered (as the nsmgr's registry proxy answers). */
export async function registeredEndpoints(node: SandboxNode): Promise<string[]> {
  const pool = new ClientPool();
  try {
    const found = await findEndpoints(pool, `unix://${node.nsmgrSocket}`, TIMING.operationMs);
    return found.map((nse) => nse.name).sort();
  } finally {
    await pool.close();
  }
}

/** The files of every socket the sandbox's endpoints listen on (as startEndpoint names them). */
export function endpointSocket(sb: Sandbox, pod: Pod): string {
  return `unix://${join(sb.runDir, pod.node.name, `nse-${pod.name}.sock`)}`;
}
