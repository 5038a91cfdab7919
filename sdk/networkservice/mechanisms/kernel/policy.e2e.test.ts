// Policy routes on the real kernel (root only). A client namespace holds two connections, to
// endpoints A and B. Its main table sends 10.9.0.0/16 to B (connection B's src_routes); connection A
// carries a policy "udp dport 5353 → 10.9.0.0/16 via A". Datagrams to 10.9.0.5:5353 must arrive at A
// and datagrams to 10.9.0.5:9999 at B; after Close the client namespace has the rules and tables it
// started with.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IPContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import { newDataplane, newIpRunner } from '../../../kernel/index.js';
import { isRoot, TestNamespaces, type TestNetns, waitForLine } from '../../../kernel/testing.js';
import { connection } from '../../../testing/connections.js';
import { type MadeLink, removePolicies } from '../../xconnect/mechanism.js';
import { mechanism } from '../common.js';
import { newForwarderMechanism } from './forwarder.js';

const run = promisify(execFile);
const TARGET = '10.9.0.5';

// Prints "ready", then one line "<port> <text>" per datagram on either port.
const LISTENER = `
const dgram = require('node:dgram');
let ready = 0;
for (const port of [5353, 9999]) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => console.log(port + ' ' + m.toString()));
  s.bind(port, '0.0.0.0', () => { if (++ready === 2) console.log('ready'); });
}`;

async function ipIn(ns: TestNetns, args: string[]): Promise<string> {
  return (await run('ip', ['-n', ns.name, ...args])).stdout;
}

describe('policy routes on the real kernel', function () {
  this.timeout(60_000);
  const spaces = new TestNamespaces();

  before(function () {
    if (!isRoot()) this.skip();
  });
  after(() => spaces.cleanup());

  it('steers matching traffic by the policy interface, the rest by the main table, and leaves nothing after Close', async () => {
    const client = await spaces.add('pbr-c');
    const nseA = await spaces.add('pbr-a');
    const nseB = await spaces.add('pbr-b');
    const rulesBefore = await ipIn(client, ['rule', 'show']);
    const runner = newIpRunner();
    const dataplane = newDataplane({ runner });
    const kernel = newForwarderMechanism({
      resolver: { resolve: async () => ({ path: '', inode: '' }), list: async () => [] },
      vethMtu: 1500,
      dataplane,
    });
    const made: MadeLink[][] = [];
    const connect = async (id: string, name: string, nse: TestNetns, ipContext: IPContext) => {
      const plan = kernel.plan({
        conn: connection({ id, payload: 'IP', context: { ipContext } }),
        incoming: { mechanism: mechanism('LOCAL', 'KERNEL', { name }), netns: { path: client.path } },
        outgoing: { mechanism: mechanism('LOCAL', 'KERNEL', { name: 'nse-1' }), netns: { path: nse.path } },
        owner: 'test@10.0.0.1',
      });
      assert.ok(plan);
      await kernel.apply(plan, {
        dataplane,
        signal: new AbortController().signal,
        rebuilding: false,
        adopt: async () => undefined,
        discard: async () => {},
        record: (links) => made.push([...links]),
        updateOutgoing: () => {},
      });
    };
    try {
      await connect(
        'pbr-a',
        'nsm-a',
        nseA,
        IPContext.fromPartial({
          srcIpAddrs: ['172.16.1.101/32'],
          dstIpAddrs: ['172.16.1.100/32'],
          srcRoutes: [{ prefix: '172.16.1.100/32' }],
          dstRoutes: [{ prefix: '172.16.1.101/32' }],
          policies: [
            { proto: 'udp', dstPort: '5353', routes: [{ prefix: '10.9.0.0/16', nextHop: '172.16.1.100' }] },
          ],
        }),
      );
      await connect(
        'pbr-b',
        'nsm-b',
        nseB,
        IPContext.fromPartial({
          srcIpAddrs: ['172.16.2.101/32'],
          dstIpAddrs: ['172.16.2.100/32'],
          srcRoutes: [{ prefix: '172.16.2.100/32' }, { prefix: '10.9.0.0/16' }],
          dstRoutes: [{ prefix: '172.16.2.101/32' }],
        }),
      );
      // Both endpoints own the target address, so either could receive; only the route decides.
      for (const nse of [nseA, nseB]) await ipIn(nse, ['addr', 'add', `${TARGET}/32`, 'dev', 'lo']);
      assert.match(await ipIn(client, ['rule', 'show']), /ipproto udp dport 5353 lookup \d+/);

      const listeners = [nseA, nseB].map((ns) => spaces.spawnIn(ns, [process.execPath, '-e', LISTENER]));
      await Promise.all(listeners.map((l) => waitForLine(l, /^ready$/)));
      const gotA = waitForLine(listeners[0], /^5353 /);
      const gotB = waitForLine(listeners[1], /^9999 /);
      const heard: string[][] = [[], []];
      listeners.forEach((l, i) => {
        l.stdout?.on('data', (d: Buffer) => heard[i].push(d.toString().trim()));
      });
      await spaces.nodeIn(
        client,
        `const s = require('node:dgram').createSocket('udp4');
         s.send('steered', 5353, '${TARGET}', () => s.send('plain', 9999, '${TARGET}', () => s.close()));`,
      );
      assert.equal(await gotA, '5353 steered');
      assert.equal(await gotB, '9999 plain');
      // Give a stray datagram the chance to show up where it must not be.
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!heard[0].join('\n').includes('9999'), `A heard only the steered datagram: ${heard[0]}`);
      assert.ok(!heard[1].join('\n').includes('5353'), `B heard only the plain datagram: ${heard[1]}`);
      for (const l of listeners) l.kill('SIGKILL');

      // Close: links, then the policy rules; the client namespace is as it was.
      for (const links of made) {
        await kernel.remove(links, dataplane);
        await removePolicies(dataplane, links);
      }
      assert.equal(await ipIn(client, ['rule', 'show']), rulesBefore);
      assert.equal(
        (await ipIn(client, ['-4', 'route', 'show', 'table', 'all'])).match(/table \d{5,}/g),
        null,
      );
      assert.deepEqual(
        (await ipIn(client, ['-o', 'link', 'show'])).split('\n').filter((l) => l && !/: lo:/.test(l)),
        [],
      );
    } finally {
      await runner.close();
    }
  });
});
