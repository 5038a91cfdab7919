// change-nse-dynamically end to end (upstream's example): a client is connected to endpoint A
// (label version=a); the NetworkService is applied again selecting version=b; the nsmgr's registry
// watch sees it and asks the client to reselect, so the connection moves to B with no client action:
// traffic reaches B and A's side of the connection is gone from the kernel.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { chainAlive } from '../../sdk/tools/sandbox/chain.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, sh } from '../../sdk/tools/sandbox/shell.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';

const RAW_REGISTER = join(dirname(fileURLToPath(import.meta.url)), 'raw-register.js');

const service = (version: string) => `apiVersion: networkservicemesh.io/v1
kind: NetworkService
metadata: {name: dyn}
spec:
  payload: IP
  matches:
    - routes: [{destination_selector: {version: ${version}}}]
`;

async function until(what: string, check: () => Promise<boolean>, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('change-nse-dynamically (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let client: Pod;
  let a: Pod;
  let b: Pod;
  let conn: Connection;
  let file: string;

  const linksIn = async (pod: Pod) => (await sb.podLinks()).filter((l) => l.netns === pod.netns);

  before(async () => {
    // insecure mode: the test re-registers endpoints at the registry without an identity
    sb = await Sandbox.create({ nodes: 2, tls: false });
    file = join(sb.runDir, 'dyn.yaml');
    writeFileSync(file, service('a'));
    await sb.apply([file]);
    a = await sb.addPod(sb.node('node1'), 'nse-a');
    await sb.startEndpoint(a, {
      NSM_SERVICE_NAMES: 'dyn',
      NSM_LABELS: 'version=a',
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: '172.16.8.0/24',
      NSM_REGISTER_SERVICE: 'false',
    });
    b = await sb.addPod(sb.node('node2'), 'nse-b');
    await sb.startEndpoint(b, {
      NSM_SERVICE_NAMES: 'dyn',
      NSM_LABELS: 'version=b',
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: '172.16.9.0/24',
      NSM_REGISTER_SERVICE: 'false',
    });
    client = await sb.addPod(sb.node('node1'), 'nsc');
    ({
      connections: [conn],
    } = await sb.startClient(client, 'kernel://dyn/nsm-1'));
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('connects the client to the endpoint the service selects (A)', async () => {
    assert.equal(conn.networkServiceEndpointName, 'nse-a');
    await assertTraffic(sb, client, a, hostIP(conn.context!.ipContext!.dstIpAddrs[0]), 7301);
    assert.deepEqual(await linksIn(b), []);
  });

  it('moves the connection to B when the service is applied again selecting B, with no client action', async () => {
    writeFileSync(file, service('b'));
    assert.match(await sb.apply([file]), /networkservice\/dyn applied/);
    // B's side of the new path is made before the client's (on the way back), so wait for both.
    await until('A has no interface left, B has one, and so has the client', async () => {
      if ((await linksIn(a)).length !== 0 || (await linksIn(b)).length !== 1) return false;
      return (await linksIn(client)).some((l) => l.ifname === 'nsm-1');
    });
    const [bSide] = await linksIn(b);
    const [bAddr] = await addresses(b.netns, bSide.ifname);
    assert.match(bAddr, /^172\.16\.9\./, 'B hands out its own addresses');
    const [clientAddr] = await addresses(client.netns, 'nsm-1');
    assert.match(clientAddr, /^172\.16\.9\./, 'the client got an address of B');
    await until('the moved connection carries traffic', () => chainAlive(client));
    await assertTraffic(sb, client, b, hostIP(bAddr), 7302);
    await assertTraffic(sb, b, client, hostIP(clientAddr), 7303);
  });

  it('moves the connection when its endpoint registers again with labels the service no longer selects', async () => {
    // What an endpoint re-registering with new labels sends, done by a raw registry client at the
    // registry itself so that the endpoint processes (and their connections) stay as they are.
    const relabel = async (name: string, version: string) => {
      const out = await sh('ip', [
        'netns',
        'exec',
        sb.node('node1').netns,
        process.execPath,
        RAW_REGISTER,
        sb.registryURL,
        JSON.stringify([{ op: 'relabel', name, service: 'dyn', labels: { version } }]),
      ]);
      assert.equal((JSON.parse(out.trim()) as { ok: boolean }).ok, true, out);
    };
    await relabel('nse-a', 'b'); // A matches too now: nothing moves
    await relabel('nse-b', 'retired'); // B no longer matches: the connection moves to A
    await until('B has no interface left and A has one', async () => {
      return (await linksIn(b)).length === 0 && (await linksIn(a)).length === 1;
    });
    const [aSide] = await linksIn(a);
    const [aAddr] = await addresses(a.netns, aSide.ifname);
    assert.match(aAddr, /^172\.16\.8\./, 'A hands out its own addresses');
    await until('the moved connection carries traffic', () => chainAlive(client));
    await assertTraffic(sb, client, a, hostIP(aAddr), 7304);
  });
});
