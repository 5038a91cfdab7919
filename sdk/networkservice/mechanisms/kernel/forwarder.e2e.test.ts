// The kernel forwarder mechanism against the real kernel (root only): a thousand connections into
// one endpoint namespace, as a busy endpoint gets them. Endpoint interface names carry 4 random
// characters, so with hundreds in one namespace a name is eventually taken; here one request in ten
// asks for a name that is certainly taken, and every one of them must still get its pair (under a
// new name, reported through updateOutgoing) instead of failing with "File exists".
import assert from 'node:assert/strict';
import type { Mechanism } from '../../../../api/gen/networkservice/connection.js';
import { IPContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import { newDataplane, newIpRunner } from '../../../kernel/index.js';
import { isRoot, TestNamespaces, type TestNetns } from '../../../kernel/testing.js';
import { connection } from '../../../testing/connections.js';
import type { MadeLink } from '../../xconnect/mechanism.js';
import { generateInterfaceName, mechanism } from '../common.js';
import { newForwarderMechanism } from './forwarder.js';

const CONNECTIONS = 1000;
const IN_FLIGHT = 8; // xconnect's default kernelConcurrency
const TAKEN_EVERY = 10;

describe('kernel forwarder mechanism on the real kernel', function () {
  this.timeout(180_000);
  const spaces = new TestNamespaces();
  let pods: TestNetns;
  let endpoint: TestNetns;

  before(async function () {
    if (!isRoot()) this.skip();
    pods = await spaces.add('pods');
    endpoint = await spaces.add('nse');
  });

  after(() => spaces.cleanup());

  it(`puts ${CONNECTIONS} connections into one endpoint namespace, renaming taken names`, async () => {
    const runner = newIpRunner();
    const dataplane = newDataplane({ runner });
    const kernel = newForwarderMechanism({
      resolver: {
        resolve: async () => {
          throw new Error('not used');
        },
        list: async () => [],
      },
      vethMtu: 1500,
      dataplane,
    });
    const used: string[] = [];
    const renamed = new Map<number, string>();
    const made = new Map<number, readonly MadeLink[]>();
    const connect = async (i: number) => {
      // Every TAKEN_EVERY-th request asks for a name an earlier connection already has.
      const wanted =
        i % TAKEN_EVERY === TAKEN_EVERY - 1 && used.length > 0
          ? used[i % used.length]
          : generateInterfaceName('bench');
      const conn = connection({
        id: `conn-${i}`,
        payload: 'ETHERNET',
        context: {
          ipContext: IPContext.fromPartial({
            srcIpAddrs: [`10.60.${i >> 8}.${i & 255}/32`],
            dstIpAddrs: [`10.61.${i >> 8}.${i & 255}/32`],
          }),
        },
      });
      const end = (ns: TestNetns, name: string): { mechanism: Mechanism; netns: { path: string } } => ({
        mechanism: mechanism('LOCAL', 'KERNEL', { name }),
        netns: { path: ns.path },
      });
      const plan = kernel.plan({
        conn,
        incoming: end(pods, `nsm-${i}`),
        outgoing: end(endpoint, wanted),
        owner: 'test@10.0.0.1',
      });
      assert.ok(plan);
      await kernel.apply(plan, {
        dataplane,
        signal: new AbortController().signal,
        rebuilding: false,
        adopt: async () => undefined,
        discard: async () => {},
        record: (links) => made.set(i, links),
        updateOutgoing: (params) => renamed.set(i, params.name),
      });
      used.push(renamed.get(i) ?? wanted);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < CONNECTIONS) await connect(next++);
      }),
    );

    const links = (await dataplane.listLinks(endpoint)).filter((l) => l.name !== 'lo');
    assert.equal(links.length, CONNECTIONS, 'one endpoint end per connection');
    assert.equal(new Set(links.map((l) => l.name)).size, CONNECTIONS);
    assert.deepEqual(
      new Set(links.map((l) => l.name)),
      new Set(used),
      'every connection got the name it was told about',
    );
    const forced = Array.from({ length: CONNECTIONS }, (_, i) => i).filter(
      (i) => i % TAKEN_EVERY === TAKEN_EVERY - 1,
    );
    for (const i of forced)
      assert.ok(renamed.has(i), `connection ${i} asked for a taken name and was renamed`);
    for (const l of links) assert.ok(l.up && l.alias?.startsWith('nsm:test@10.0.0.1:conn-'), l.name);

    // Close removes the pair from the endpoint's side, and a second close finds nothing to do.
    const first = made.get(0)!;
    await kernel.remove(first, dataplane);
    assert.equal(await dataplane.linkExists(endpoint, first[0].name), false);
    assert.equal(await dataplane.linkExists(pods, 'nsm-0'), false, 'the peer went with it');
    await kernel.remove(first, dataplane);
    await runner.close();
  });

  it('reconnects a pod at once under the same names (long-lived ip processes cache ifindexes)', async () => {
    const pod = await spaces.add('pod');
    const runner = newIpRunner();
    const dataplane = newDataplane({ runner });
    const kernel = newForwarderMechanism({
      resolver: { resolve: async () => ({ path: '', inode: '' }), list: async () => [] },
      vethMtu: 1500,
      dataplane,
    });
    for (let round = 0; round < 3; round++) {
      const plan = kernel.plan({
        conn: connection({
          id: 'again',
          context: {
            ipContext: IPContext.fromPartial({ srcIpAddrs: ['10.62.0.1/32'], dstIpAddrs: ['10.62.0.2/32'] }),
          },
        }),
        incoming: { mechanism: mechanism('LOCAL', 'KERNEL', { name: 'nsm-1' }), netns: { path: pod.path } },
        outgoing: {
          mechanism: mechanism('LOCAL', 'KERNEL', { name: 'nse-again' }),
          netns: { path: endpoint.path },
        },
        owner: 'test@10.0.0.1',
      });
      assert.ok(plan);
      let made: readonly MadeLink[] = [];
      await kernel.apply(plan, {
        dataplane,
        signal: new AbortController().signal,
        rebuilding: false,
        adopt: async () => undefined,
        discard: async () => {},
        record: (links) => {
          made = links;
        },
        updateOutgoing: () => {},
      });
      assert.equal(await dataplane.linkExists(pod, 'nsm-1'), true, `round ${round}`);
      await kernel.remove(made, dataplane); // from the endpoint's side: the pod's process never sees it
    }
    await runner.close();
  });
});
