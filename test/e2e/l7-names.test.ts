// End-to-end: names for L7 proxies. Three members of a vL3 network (web, api, proxy) with the nsc's mesh
// DNS; in the proxy's pod an HTTP reverse proxy (examples/l7-names) routes by path to upstreams it names
// in the mesh's DNS context: `api.my-vl3.` (full name) and `web` (short, through the search domain).
// The upstreams see the proxy's vL3 address, so the requests went over the mesh; a name the mesh does
// not know is a 502 naming it.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { launch } from '../../sdk/tools/sandbox/launch.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'l7-names');
const SERVICE = 'my-vl3';
const WEB_PORT = 8080;
const PROXY = '127.0.0.1:8000';

describe('names for L7 proxies: HTTP by name to vL3 members (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  const servers: Daemon[] = [];
  const addr = new Map<string, string>();
  let proxyPod: Pod;

  /** Runs an example script in a pod until stopped; resolves when it prints "ready". */
  async function run(pod: Pod, script: string, args: string[]): Promise<void> {
    const logDir = join(sb.runDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const { daemon, ready } = launch({
      name: `${script}-${pod.name}`,
      netns: pod.netns,
      args: [join(EXAMPLE, script), ...args],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      logFile: join(logDir, `${script}-${pod.name}.log`),
      ready: (l) => l === 'ready',
    });
    servers.push(daemon);
    await ready;
  }

  /** GET through the proxy from inside its pod: status and body. */
  async function get(path: string): Promise<{ status: number; body: string }> {
    const script = `fetch('http://${PROXY}${path}').then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.error(e.message); process.exit(1); })`;
    return JSON.parse(await sh('ip', ['netns', 'exec', proxyPod.netns, process.execPath, '-e', script]));
  }

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const node = sb.node('node1');
    await sb.startVl3Ipam(node, { NSM_PREFIX: '172.16.0.0/16', NSM_SLICE_PREFIX_LENGTH: '24' });
    const replica = await sb.addPod(node, 'vl3');
    await sb.startVl3(replica, {
      NSM_SERVICE_NAMES: SERVICE,
      NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(node),
      NSM_VL3_PREFIX: '172.16.0.0/16',
    });
    const pods = new Map<string, Pod>();
    for (const name of ['web', 'api', 'proxy']) {
      const pod = await sb.addPod(node, name);
      const { connections } = await sb.startClient(pod, `kernel://${SERVICE}/nsm-1?dnsName=${name}`);
      addr.set(name, hostIP(connections[0].context!.ipContext!.srcIpAddrs[0]));
      pods.set(name, pod);
    }
    proxyPod = pods.get('proxy')!;
    for (const name of ['web', 'api'])
      await run(pods.get(name)!, 'web.js', [name, addr.get(name)!, String(WEB_PORT)]);
    await run(proxyPod, 'proxy.js', [
      PROXY,
      `/api=http://api.${SERVICE}.:${WEB_PORT}`,
      `/ghost=http://ghost.${SERVICE}.:${WEB_PORT}`,
      `/=http://web:${WEB_PORT}`,
    ]);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    resetPool();
    await sb?.close();
  });

  it('routes / to the member named web (short name, search domain) over the mesh', async () => {
    const { status, body } = await get('/index.html');
    assert.equal(status, 200, body);
    assert.deepEqual(JSON.parse(body), {
      name: 'web',
      path: '/index.html',
      from: addr.get('proxy'),
      host: `web:${WEB_PORT}`,
    });
  });

  it('routes /api to the member named api.my-vl3. (full name) over the mesh', async () => {
    const { status, body } = await get('/api/users?id=7');
    assert.equal(status, 200, body);
    assert.deepEqual(JSON.parse(body), {
      name: 'api',
      path: '/api/users?id=7',
      from: addr.get('proxy'),
      host: `api.${SERVICE}.:${WEB_PORT}`,
    });
  });

  it('answers 502 naming the upstream for a name the mesh does not know', async () => {
    const { status, body } = await get('/ghost');
    assert.equal(status, 502);
    assert.match(body, new RegExp(`upstream ghost\\.${SERVICE}\\.:${WEB_PORT}: .*ENOTFOUND`));
  });
});
