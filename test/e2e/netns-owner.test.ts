// Namespace ownership (issue 10, item 1): through the nsmgr's unix socket a client gets an
// interface only in the namespace its own process is in; the nsmgr asks the kernel who the peer is.
// The client runs inside its pod (raw-client.ts), the nsmgr with the check on (as in production).
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { links, sh } from '../../sdk/tools/sandbox/shell.js';
import { kernelMechanism, newConnection, rejectsWith, request, resetPool } from './helpers.js';

const RAW_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'raw-client.js');

interface RawResult {
  id: string;
  ok: boolean;
  code?: string;
  message?: string;
}

/** Runs raw-client.ts in `netns` against `url` (default: the pod's nsmgr socket). */
async function rawRequests(
  pod: Pod,
  cases: { id: string; inodeURL: string }[],
  url = `unix://${pod.node.nsmgrSocket}`,
  netns = pod.netns,
): Promise<RawResult[]> {
  const out = await sh('ip', [
    'netns',
    'exec',
    netns,
    process.execPath,
    RAW_CLIENT,
    url,
    JSON.stringify(cases.map((c) => ({ ...c, service: 'svc' }))),
  ]);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RawResult);
}

async function hostLinks(): Promise<string[]> {
  return JSON.parse(await sh('ip', ['-j', 'link', 'show'])).map((l: { ifname: string }) => l.ifname);
}

describe('namespace ownership (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let nse: Pod;
  let client: Pod;
  let other: Pod;

  before(async () => {
    // insecure mode: the test process dials the tcp listener without an identity
    sb = await Sandbox.create({ nodes: 1, allowForeignNetns: false, tls: false });
    node = sb.node('node1');
    nse = await sb.addPod(node, 'nse');
    await sb.startEndpoint(nse, { NSM_SERVICE_NAMES: 'svc', NSM_CIDR_PREFIX: '172.16.11.0/24' });
    client = await sb.addPod(node, 'client');
    other = await sb.addPod(node, 'other');
  });

  after(async () => {
    await sb?.close();
    resetPool();
  });

  it("refuses another pod's, the endpoint's, the host's namespace and a non-namespace; grants its own", async () => {
    const hostBefore = await hostLinks();
    const results = await rawRequests(client, [
      { id: 'other-pod', inodeURL: `file:///var/run/netns/${other.netns}` },
      { id: 'endpoint-pod', inodeURL: `file:///var/run/netns/${nse.netns}` },
      { id: 'host', inodeURL: `file:///proc/${process.pid}/ns/net` }, // the test process is in the host's namespace
      { id: 'not-a-netns', inodeURL: 'file:///proc/1/ns/mnt' },
      { id: 'own', inodeURL: 'self' },
    ]);
    const byId = new Map(results.map((r) => [r.id, r]));
    for (const [id, ns] of [
      ['other-pod', other.netns],
      ['endpoint-pod', nse.netns],
      ['host', `/proc/${process.pid}/ns/net`],
    ]) {
      const r = byId.get(id);
      assert.equal(r?.code, 'PERMISSION_DENIED', `${id}: ${JSON.stringify(r)}`);
      assert.match(
        r?.message ?? '',
        new RegExp(`network namespace ".*${ns}.*": it is inode://\\d+/\\d+, not the caller's`),
      );
    }
    assert.equal(byId.get('not-a-netns')?.code, 'INVALID_ARGUMENT', JSON.stringify(byId.get('not-a-netns')));
    assert.match(byId.get('not-a-netns')?.message ?? '', /ns\/mnt/);
    assert.deepEqual(byId.get('own'), { id: 'own', ok: true }, 'its own namespace works');
    // Nothing left: no interface in any pod, the node or the host.
    assert.deepEqual(await sb.podLinks(), []);
    assert.deepEqual(await sb.nodeLinks(), []);
    assert.deepEqual(await hostLinks(), hostBefore);
    assert.deepEqual(
      (await links(other.netns)).map((l) => l.ifname),
      ['lo'],
    );
  });

  it('refuses a request for a pod from a process outside it (the test process, in the host namespace)', async () => {
    await rejectsWith(
      () =>
        request(node, newConnection('outsider', 'svc'), [
          kernelMechanism({ name: 'nsm-1', inodeURL: `file:///var/run/netns/${client.netns}` }),
        ]),
      status.PERMISSION_DENIED,
      /not the caller's namespace/,
    );
    assert.deepEqual(await sb.podLinks(), []);
  });

  it('refuses any namespace named over tcp (a remote nsmgr never names one of this node)', async () => {
    const [r] = await rawRequests(
      client,
      [{ id: 'over-tcp', inodeURL: `file:///var/run/netns/${client.netns}` }],
      node.nsmgrURL,
      node.netns, // the nsmgr's tcp listener is reachable from the node's namespace
    );
    assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
    assert.match(r.message ?? '', /tcp peer .* cannot name a network namespace on this node/);
    assert.deepEqual(await sb.podLinks(), []);
  });

  it("refuses a client that dials the forwarder's socket directly (only the nsmgr may)", async () => {
    const [r] = await rawRequests(
      client,
      [{ id: 'direct', inodeURL: 'self' }],
      `unix://${node.forwarderSocket}`,
    );
    assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
    assert.match(
      r.message ?? '',
      /only the nsmgr on .*nsm\.io\.sock may call, and the calling process does not listen there/,
    );
    assert.deepEqual(await sb.podLinks(), []);
  });
});
