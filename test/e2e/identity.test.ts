// Identities in the sandbox: every daemon gets an X.509-SVID from the sandbox's CA as files, the
// tcp links (nsmgr <-> nsmgr, nsmgr <-> registry) run mTLS, and a rotation of every SVID mid-connection
// drops nothing: the connection keeps its interface and refreshes (its tokens, signed with the new
// keys, still verify over the connections opened before), and links made after the rotation (a
// restarted registry, a new endpoint and client) handshake with the new SVIDs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { eventually } from '../../sdk/testing/eventually.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import { assertTraffic, hostIP } from './helpers.js';

/** The client's own token lifetime: it refreshes every 1-2 s, through both nsmgrs. */
const CLIENT_TOKEN_LIFETIME = '6s';

async function ifindex(pod: Pod, ifname: string): Promise<number | undefined> {
  const l = (await links(pod.netns)).find((x) => x.ifname === ifname) as { ifindex?: number } | undefined;
  return l?.ifindex;
}

describe('identities and mTLS in the sandbox (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let nse: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 2 });
    nse = await sb.addPod(sb.node('node2'), 'nse-a');
    await sb.startEndpoint(nse, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.11.0/24' });
  });

  after(async () => {
    await sb?.close();
  });

  it('gives every daemon its SPIFFE ID and mTLS on its tcp links', () => {
    for (const d of sb.daemons) {
      const log = readFileSync(d.logFile, 'utf8');
      assert.match(log, /identity: mTLS on every tcp link/, `${d.name} runs mTLS`);
      assert.ok(log.includes(`"spiffeId":"${sb.spiffeId(d.name)}"`), `${d.name} is ${sb.spiffeId(d.name)}`);
      assert.doesNotMatch(log, /INSECURE MODE/);
    }
  });

  it('keeps a remote connection through a rotation of every SVID; new links use the new ones', async () => {
    const client = await sb.addPod(sb.node('node1'), 'nsc-rot');
    const { daemon, connections } = await sb.startClient(client, 'kernel://icmp/nsm-1', {
      NSM_MAX_TOKEN_LIFETIME: CLIENT_TOKEN_LIFETIME,
    });
    const ip = connections[0].context!.ipContext!;
    const before = await ifindex(client, 'nsm-1');
    assert.ok(before, 'nsm-1 is up');

    // A rotation keeps the SPIFFE ID and changes the key: tokens are then signed with the new key
    // while the open TLS connections still show the old certificate.
    const daemons = sb.daemons.filter((d) => d.running && d.name !== daemon.name);
    const reloads = (d: { logFile: string }) =>
      readFileSync(d.logFile, 'utf8').split('identity files reloaded').length - 1;
    for (const d of daemons) await sb.issueIdentity(d.name);
    await eventually(() => {
      for (const d of daemons) assert.equal(reloads(d), 1, `${d.name} reloaded its SVID`);
    }, 10_000);
    // Several refreshes of the client over the existing mTLS links.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(await ifindex(client, 'nsm-1'), before, 'the interface was never rebuilt');
    assert.ok(daemon.running, 'the client is still up');
    await assertTraffic(sb, client, nse, hostIP(ip.dstIpAddrs[0]), 7101);

    // New handshakes: a restarted registry (new SVID) and the nsmgrs' new links to it, a new
    // endpoint registering through them and a new client finding it.
    sb.registry!.kill();
    await sb.registry!.exited();
    await sb.restartRegistry();
    const nse2 = await sb.addPod(sb.node('node2'), 'nse-b');
    await sb.startEndpoint(nse2, { NSM_SERVICE_NAMES: 'icmp2', NSM_CIDR_PREFIX: '172.16.12.0/24' });
    const client2 = await sb.addPod(sb.node('node1'), 'nsc-new');
    const second = await sb.startClient(client2, 'kernel://icmp2/nsm-2');
    await assertTraffic(
      sb,
      client2,
      nse2,
      hostIP(second.connections[0].context!.ipContext!.dstIpAddrs[0]),
      7102,
    );
  });
});
