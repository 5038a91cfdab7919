// Connection ownership (issue 10, item 6): a client acts only on its own connections. Two clients
// in two pods of one node: the victim (the example nsc, holding its connection and refreshing it)
// and an attacker (raw-attack.ts, run inside its pod) that tries what the issue found working:
// an empty-selector MonitorConnections, replaying the victim's path in a Close (whole path and first
// segment only) and in a Request with its own KERNEL mechanism. All are refused with
// PERMISSION_DENIED and the victim's interfaces and addresses stay as they were (kernel census);
// the operator (this test process: root in the host's namespace) still sees every connection.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Connection, Connection as ConnectionCodec } from '../../api/gen/networkservice/connection.js';
import { monitorSnapshot } from '../../nsmctl/mesh.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { type Daemon, type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links, sh } from '../../sdk/tools/sandbox/shell.js';

const RAW_ATTACK = join(dirname(fileURLToPath(import.meta.url)), 'raw-attack.js');

interface Step {
  step: string;
  ok: boolean;
  code?: string;
  message?: string;
  ids?: string[];
}

/** Every link of a namespace with its addresses: what must not change under an attack. */
async function census(netns: string): Promise<string[]> {
  const out: string[] = [];
  for (const l of await links(netns))
    out.push(`${l.ifname} ${(await addresses(netns, l.ifname)).sort().join(',')}`);
  return out.sort();
}

async function attack(pod: Pod, victims: Connection[]): Promise<Map<string, Step>> {
  const out = await sh('ip', [
    'netns',
    'exec',
    pod.netns,
    process.execPath,
    RAW_ATTACK,
    `unix://${pod.node.nsmgrSocket}`,
    'svc',
    // as JSON (Dates as strings), as the nsc printed its connection
    JSON.stringify(
      victims.map((v) => ConnectionCodec.toJSON(ConnectionCodec.fromJSON(JSON.parse(JSON.stringify(v))))),
    ),
  ]);
  const steps = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Step);
  return new Map(steps.map((s) => [s.step, s]));
}

describe('connection ownership (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let nse: Pod;
  let victim: Pod;
  let attacker: Pod;
  let nsc: { daemon: Daemon; connections: Connection[] };
  const pool = new ClientPool();

  before(async () => {
    // As in production: mTLS between daemons, the namespace check on.
    sb = await Sandbox.create({ nodes: 1, allowForeignNetns: false });
    node = sb.node('node1');
    nse = await sb.addPod(node, 'nse');
    await sb.startEndpoint(nse, { NSM_SERVICE_NAMES: 'svc', NSM_CIDR_PREFIX: '172.16.12.0/24' });
    victim = await sb.addPod(node, 'victim');
    attacker = await sb.addPod(node, 'attacker');
    nsc = await sb.startClient(victim, 'kernel://svc/nsm-1');
  });

  after(async () => {
    await sb?.close();
    await pool.close();
  });

  it("shows the attacker only its own connection, and refuses its replays of the victim's path", async () => {
    const [mine] = nsc.connections;
    const url = `unix://${node.nsmgrSocket}`;
    const held = await monitorSnapshot(pool, url, 10_000);
    assert.equal(held.length, 1, 'the operator sees the victim connection');
    const [atNsmgr] = held;
    const victimBefore = await census(victim.netns);
    const nseBefore = await census(nse.netns);
    assert.ok(
      victimBefore.some((l) => l.includes('172.16.12.')),
      `victim has its address: ${victimBefore}`,
    );

    // Replay the path as the client holds it and as the nsmgr's monitor showed it to anyone before.
    const steps = await attack(attacker, [mine, atNsmgr]);
    assert.deepEqual(steps.get('own-request')?.ok, true, JSON.stringify(steps.get('own-request')));
    assert.deepEqual(steps.get('monitor'), { step: 'monitor', ok: true, ids: ['attacker-own'] });
    for (const s of ['close-0', 'close-first-0', 'request-0', 'close-1', 'close-first-1']) {
      const r = steps.get(s);
      assert.equal(r?.code, 'PERMISSION_DENIED', `${s}: ${JSON.stringify(r)}`);
      assert.match(
        r?.message ?? '',
        /failed to (close|request) connection "[^"]+": it belongs to another caller, not to unix:inode:\/\/\d+\/\d+:uid=0 \(path ids are not credentials\)/,
        s,
      );
    }
    // The nsmgr's own view names the nsmgr's segment as current: refused one way or another.
    assert.equal(steps.get('request-1')?.ok, false, JSON.stringify(steps.get('request-1')));
    assert.equal(steps.get('own-close')?.ok, true, JSON.stringify(steps.get('own-close')));

    // Nothing moved: the victim's interface and address, the endpoint's side, the attacker's pod.
    assert.deepEqual(await census(victim.netns), victimBefore);
    assert.deepEqual(await census(nse.netns), nseBefore);
    assert.deepEqual(
      (await links(attacker.netns)).map((l) => l.ifname),
      ['lo'],
    );
    const after = await monitorSnapshot(pool, url, 10_000);
    assert.deepEqual(
      after.map((c) => c.id),
      [atNsmgr.id],
      'the victim connection is still held under the same id',
    );
  });
});
