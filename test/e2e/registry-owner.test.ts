// Registration ownership without identities (issue 10, items 2 and 6): through the nsmgr, a local
// socket is registered, changed and unregistered only by the process listening on it; upstream's
// inode://DEV/INO URL is resolved to that socket's path. Clients run inside pods (raw-register.ts).
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';

const RAW_REGISTER = join(dirname(fileURLToPath(import.meta.url)), 'raw-register.js');

interface Result {
  op: string;
  ok: boolean;
  code?: string;
  message?: string;
  url?: string;
}

async function run(netns: string, url: string, ops: object[]): Promise<Result[]> {
  const out = await sh('ip', [
    'netns',
    'exec',
    netns,
    process.execPath,
    RAW_REGISTER,
    url,
    JSON.stringify(ops),
  ]);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Result);
}

describe('registration ownership through the nsmgr (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let a: Pod;
  let b: Pod;
  let nsmgr: string;
  const sock = (n: string) => join(sb.runDir, 'node1', n);

  before(async () => {
    // insecure mode: the test process dials the tcp listeners without an identity
    sb = await Sandbox.create({ nodes: 2, tls: false });
    node = sb.node('node1');
    nsmgr = `unix://${node.nsmgrSocket}`;
    a = await sb.addPod(node, 'a');
    b = await sb.addPod(node, 'b');
  });

  after(async () => {
    await sb?.close();
  });

  it('registers the socket the caller listens on; refuses another process the socket, the change and the unregister', async () => {
    const aURL = `unix://${sock('a.sock')}`;
    const [listen, reg, found] = await run(a.netns, nsmgr, [
      { op: 'listen', path: sock('a.sock') },
      { op: 'register', name: 'ep-a', url: aURL },
      { op: 'find', name: 'ep-a' },
    ]);
    assert.ok(listen.ok && reg.ok, JSON.stringify(reg));
    assert.equal(found.url, aURL);

    const [steal, change, drop, dropNamed, still] = await run(b.netns, nsmgr, [
      { op: 'register', name: 'ep-b', url: aURL },
      { op: 'register', name: 'ep-a', url: aURL },
      { op: 'unregister', name: 'ep-a', url: '' },
      { op: 'unregister', name: 'ep-a', url: aURL },
      { op: 'find', name: 'ep-a' },
    ]);
    for (const r of [steal, change]) {
      assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
      assert.match(r.message ?? '', /the calling process does not listen on unix:\/\/.*a\.sock/);
    }
    for (const r of [drop, dropNamed]) {
      assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
      assert.match(
        r.message ?? '',
        /"ep-a": it belongs to the process listening on unix:\/\/.*a\.sock, not to the caller/,
      );
    }
    assert.equal(still.url, aURL, 'ep-a is still registered, unchanged');
  });

  it("resolves upstream's inode://DEV/INO to the socket the caller listens on; refuses one it does not", async () => {
    const cURL = `unix://${sock('c.sock')}`;
    const [, reg, found, other] = await run(a.netns, nsmgr, [
      { op: 'listen', path: sock('c.sock') },
      { op: 'register', name: 'ep-c', url: `inode-of:${sock('c.sock')}` },
      { op: 'find', name: 'ep-c' },
      { op: 'register', name: 'ep-d', url: `inode-of:${node.nsmgrSocket}` },
    ]);
    assert.equal(reg.url, cURL, JSON.stringify(reg));
    assert.equal(found.url, cURL);
    assert.equal(other.code, 'FAILED_PRECONDITION', JSON.stringify(other));
    assert.match(other.message ?? '', /inode:\/\/\d+\/\d+ is no socket file the calling process listens on/);
  });

  it('refuses a unix URL registered over tcp', async () => {
    const [r] = await run(node.netns, node.nsmgrURL, [
      { op: 'register', name: 'ep-tcp', url: `unix://${sock('a.sock')}` },
    ]);
    assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
    assert.match(r.message ?? '', /tcp peer .* has no socket on this node/);
  });

  it("refuses, at the registry, another node's unregister of an endpoint (it comes from the wrong nsmgr)", async () => {
    const node2 = sb.node('node2');
    const far = await sb.addPod(node2, 'far');
    const farSock = join(sb.runDir, 'node2', 'far.sock');
    const [, reg] = await run(far.netns, `unix://${node2.nsmgrSocket}`, [
      { op: 'listen', path: farSock },
      { op: 'register', name: 'ep-far', url: `unix://${farSock}` },
    ]);
    assert.ok(reg.ok, JSON.stringify(reg));
    const [drop, still] = await run(b.netns, nsmgr, [
      { op: 'unregister', name: 'ep-far', url: '' },
      { op: 'find', name: 'ep-far' },
    ]);
    assert.equal(drop.code, 'PERMISSION_DENIED', JSON.stringify(drop));
    assert.match(
      drop.message ?? '',
      /"ep-far" is registered by tcp:\/\/[\d.]+:5001; [\d.]+ may not unregister it/,
    );
    assert.equal(still.url, node2.nsmgrURL, 'node1 sees it, through node2');
  });
});
