// Limits (issue 10, item 7): a flood of 1000 Requests from one client straight at an endpoint's
// socket neither drains its pool nor starves another client, whose Request through the mesh still
// completes within its timeout and gets addresses.
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { close, kernelMechanism, newConnection, request, resetPool } from './helpers.js';

const FLOOD = 1000;
const LEGIT_TIMEOUT_MS = 15_000;

describe('a flood from one client (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let node: SandboxNode;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    node = sb.node('node1');
    // A /22: 512 point-to-point pairs; one client may hold half.
    await sb.startEndpoint(await sb.addPod(node, 'nse'), {
      NSM_SERVICE_NAMES: 'svc',
      NSM_CIDR_PREFIX: '172.16.12.0/22',
    });
  });

  after(async () => {
    await sb?.close();
    resetPool();
  });

  it('bounds the flooding client at half the pool while another client is served in time', async () => {
    const endpointURL = `unix://${join(sb.runDir, 'node1', 'nse-nse.sock')}`;
    const pool = new ClientPool();
    const { ctx, cancel } = withTimeout(background(), 90_000);
    setMaxListeners(FLOOD + 10, ctx.signal); // every flood call listens to the one deadline
    try {
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        pool
          .request(ctx, endpointURL, {
            connection: Connection.fromPartial({
              id: `m-${i}`,
              networkService: 'svc',
              path: { index: 0, pathSegments: [{ name: 'mallory', id: `m-${i}` }] },
            }),
            mechanismPreferences: [kernelMechanism({ name: `m${i}` })],
          })
          .then(
            () => 'ok',
            (e: unknown) =>
              getErrorCode(e) === status.RESOURCE_EXHAUSTED ? 'exhausted' : getErrorMessage(e),
          ),
      );
      const pod = await sb.addPod(node, 'alice');
      const started = Date.now();
      const conn = await request(node, newConnection('alice-0', 'svc'), [
        kernelMechanism({ name: 'nsm-1', inodeURL: `file:///var/run/netns/${pod.netns}` }),
      ]);
      const tookMs = Date.now() - started;
      assert.ok(tookMs < LEGIT_TIMEOUT_MS, `the other client waited ${tookMs} ms`);
      assert.equal(conn.context?.ipContext?.srcIpAddrs.length, 1, 'and got an address');
      const outcomes = await Promise.all(flood);
      const count = (o: string) => outcomes.filter((x) => x === o).length;
      assert.equal(count('ok'), 256, `outcomes: ${JSON.stringify([...new Set(outcomes)])}`);
      assert.equal(count('exhausted'), FLOOD - 256);
      await close(node, conn);
    } finally {
      cancel();
      await pool.close();
    }
  });
});
