// Helpers for end-to-end tests: raw gRPC requests to an nsmgr (what an upstream client would
// send), and kernel-state assertions on the sandbox.
import assert from 'node:assert/strict';
import type { status } from '@grpc/grpc-js';
import { Connection, type Mechanism } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import type { Pod, Sandbox, SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';

let pool = new ClientPool();

/** Closes the gRPC clients of this test file (each file calls it in its `after`). */
export function resetPool(): void {
  void pool.close(); // closing channels is synchronous in grpc-js
  pool = new ClientPool();
}

export function kernelMechanism(params: Record<string, string>): Mechanism {
  return { cls: 'LOCAL', type: 'KERNEL', parameters: params };
}

export function newConnection(
  id: string,
  networkService: string,
  extra: Partial<Connection> = {},
): Connection {
  return Connection.fromPartial({ id, networkService, labels: {}, ...extra });
}

export async function request(node: SandboxNode, conn: Connection, prefs: Mechanism[]): Promise<Connection> {
  const { ctx, cancel } = withTimeout(background(), 15_000);
  try {
    return await pool.request(ctx, `unix://${node.nsmgrSocket}`, {
      connection: conn,
      mechanismPreferences: prefs,
    });
  } finally {
    cancel();
  }
}

export async function close(node: SandboxNode, conn: Connection): Promise<void> {
  const { ctx, cancel } = withTimeout(background(), 15_000);
  try {
    await pool.closeConnection(ctx, `unix://${node.nsmgrSocket}`, conn);
  } finally {
    cancel();
  }
}

/** Asserts that fn fails with the gRPC status `code` and a message matching `message`. */
export async function rejectsWith(fn: () => Promise<unknown>, code: status, message: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.equal(getErrorCode(e), code, `wrong status code; message: ${getErrorMessage(e)}`);
    assert.match(getErrorMessage(e), message);
    return;
  }
  assert.fail('expected the call to fail');
}

/** TCP and UDP echo from `from` to `to` (address in `to`'s namespace). */
export async function assertTraffic(
  sb: Sandbox,
  from: Pod,
  to: Pod,
  toIP: string,
  port: number,
): Promise<void> {
  const server = await sb.echoServer(to.netns, toIP, port);
  try {
    for (const proto of ['tcp', 'udp']) {
      const msg = `${proto}-${from.name}-${Date.now()}`;
      const reply = (await sb.probe(from.netns, [proto, toIP, String(port), msg])).trim();
      assert.equal(reply, msg, `${proto} echo ${from.name} -> ${to.name} (${toIP})`);
    }
  } finally {
    await server.stop();
  }
}

export function hostIP(cidr: string): string {
  return cidr.split('/')[0];
}
