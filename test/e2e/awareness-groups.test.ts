// End-to-end: NSM_AWARENESS_GROUPS (upstream's mutually-aware-nses): two endpoints with the same CIDR
// serve two services to one client. Without a group the client keeps the connections apart (the second
// gets other addresses); with both NSURLs in one group each connection keeps what its endpoint chose,
// so both interfaces carry the same address, and traffic bound to each interface reaches its own
// endpoint (curl --interface binds with SO_BINDTODEVICE; a fresh machine has no ping).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const execFileAsync = promisify(execFile);
const URLS = 'kernel://svc-a/nsm-a,kernel://svc-b/nsm-b';

/**
 * Sends an HTTP request bound to `ifname` to the probe's TCP echo server and returns what came back.
 * The echo server never closes, so curl ends at --max-time (exit 28) with the echoed request as an
 * HTTP/0.9 body: what it printed is the answer, whatever the exit code.
 */
async function echoVia(pod: Pod, ifname: string, ip: string, port: number, tag: string): Promise<string> {
  const args = ['netns', 'exec', pod.netns, 'curl', '--http0.9', '-sN', '-m', '2'];
  args.push('--interface', `if!${ifname}`, `http://${ip}:${port}/${tag}`);
  try {
    return (await execFileAsync('ip', args)).stdout;
  } catch (e) {
    return (e as { stdout?: string }).stdout ?? '';
  }
}

describe('awareness groups (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let nseA: Pod;
  let nseB: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const node = sb.node('node1');
    nseA = await sb.addPod(node, 'nse-a');
    nseB = await sb.addPod(node, 'nse-b');
    await sb.startEndpoint(nseA, { NSM_SERVICE_NAMES: 'svc-a', NSM_CIDR_PREFIX: '172.16.6.0/29' });
    await sb.startEndpoint(nseB, { NSM_SERVICE_NAMES: 'svc-b', NSM_CIDR_PREFIX: '172.16.6.0/29' });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('without a group, the second connection gets addresses apart from the first', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'nsc-apart');
    const { daemon, connections } = await sb.startClient(pod, URLS);
    const [a, b] = connections.map((c) => c.context!.ipContext!);
    assert.deepEqual([a.dstIpAddrs, a.srcIpAddrs], [['172.16.6.0/32'], ['172.16.6.1/32']]);
    assert.deepEqual([b.dstIpAddrs, b.srcIpAddrs], [['172.16.6.2/32'], ['172.16.6.3/32']]);
    await daemon.stop(); // frees the endpoints' addresses for the next test
  });

  it('with both NSURLs in one group, both keep the addresses their endpoints chose, and carry traffic', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'nsc-aware');
    const { daemon, connections } = await sb.startClient(pod, URLS, {
      NSM_AWARENESS_GROUPS: '[kernel://svc-a/nsm-a, kernel://svc-b/nsm-b]',
    });
    const [a, b] = connections.map((c) => c.context!.ipContext!);
    assert.deepEqual([a.dstIpAddrs, a.srcIpAddrs], [['172.16.6.0/32'], ['172.16.6.1/32']]);
    assert.deepEqual([b.dstIpAddrs, b.srcIpAddrs], [['172.16.6.0/32'], ['172.16.6.1/32']], 'overlap allowed');
    assert.deepEqual(await addresses(pod.netns, 'nsm-a'), ['172.16.6.1/32']);
    assert.deepEqual(await addresses(pod.netns, 'nsm-b'), ['172.16.6.1/32']);
    // Each endpoint listens on its own port, so an answer names the endpoint that got the request.
    const ip = hostIP(a.dstIpAddrs[0]);
    const servers = [await sb.echoServer(nseA.netns, ip, 7201), await sb.echoServer(nseB.netns, ip, 7202)];
    try {
      assert.match(await echoVia(pod, 'nsm-a', ip, 7201, 'to-a'), /GET \/to-a /, 'nsm-a reaches endpoint a');
      assert.match(await echoVia(pod, 'nsm-b', ip, 7202, 'to-b'), /GET \/to-b /, 'nsm-b reaches endpoint b');
      // And not the other one: bound to nsm-a, endpoint b's port is not there (a refuses it).
      assert.doesNotMatch(await echoVia(pod, 'nsm-a', ip, 7202, 'cross'), /GET \/cross /);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    await daemon.stop();
  });
});
