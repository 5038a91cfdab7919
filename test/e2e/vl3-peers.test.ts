// End-to-end: vL3 peer links heal. Three replicas (vl3-a and vl3-c on node1, vl3-b on node2); vl3-c
// is killed with -9 while a member on vl3-a streams UDP to a member on vl3-b: the survivors close
// their links to vl3-c (its interfaces go from their namespaces), the stream loses nothing, and
// when vl3-c comes back under its name they peer with it again and its new member reaches both.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { peerInterface } from '../../examples/vl3/peers.js';
import { eventually } from '../../sdk/testing/eventually.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const SERVICE = 'heal-vl3';
const PREFIX = '172.17.0.0/16';
const PORT = 7320;
const STREAM_INTERVAL_MS = 10;

/**
 * Sends a numbered datagram every STREAM_INTERVAL_MS to HOST:PORT (an echo server) from inside netns
 * until stdin says "stop", then prints {sent, echoed} once stragglers had 500 ms.
 */
const STREAM = `const s = require('node:dgram').createSocket('udp4');
  const got = new Set(); let n = 0;
  s.on('message', (m) => got.add(m.readUInt32BE(0)));
  s.on('error', () => {});
  const t = setInterval(() => { const b = Buffer.alloc(8); b.writeUInt32BE(n++); s.send(b, +process.argv[2], process.argv[1]); }, ${STREAM_INTERVAL_MS});
  process.stdin.on('data', () => { clearInterval(t); setTimeout(() => { console.log(JSON.stringify({ sent: n, echoed: got.size })); process.exit(0); }, 500); });`;

/** Runs STREAM inside netns; `finish` stops it and resolves with its one output line. */
function startStream(netns: string, host: string, port: number) {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', STREAM, host, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async finish(): Promise<string> {
      child.stdin.write('stop\n');
      await exited;
      return out.trim();
    },
    async kill(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('vL3 peer links heal (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  const replicas = new Map<string, { pod: Pod; daemon: Daemon }>();
  const env = (sb: Sandbox) => ({
    NSM_SERVICE_NAMES: SERVICE,
    NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(sb.node('node1')),
    NSM_VL3_PREFIX: PREFIX,
  });
  const members: { pod: Pod; conn: Connection }[] = [];

  before(async () => {
    sb = await Sandbox.create({ nodes: 2, logDir: process.env.NSM_TEST_LOG_DIR });
    await sb.startVl3Ipam(sb.node('node1'), { NSM_PREFIX: PREFIX, NSM_SLICE_PREFIX_LENGTH: '24' });
    for (const [name, node] of [
      ['vl3-a', 'node1'],
      ['vl3-b', 'node2'],
      ['vl3-c', 'node1'],
    ] as const) {
      const pod = await sb.addPod(sb.node(node), name);
      replicas.set(name, { pod, daemon: await sb.startVl3(pod, env(sb)) });
    }
    // Members until vl3-a and vl3-b each serve one (the replica is the forwarder's round-robin choice).
    for (let i = 0; i < 9; i++) {
      const on = (r: string) => members.some((m) => m.conn.networkServiceEndpointName === r);
      if (on('vl3-a') && on('vl3-b')) break;
      const pod = await sb.addPod(sb.node(i % 2 ? 'node2' : 'node1'), `hm${i}`);
      members.push({ pod, conn: (await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`)).connections[0] });
    }
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  const peerLinkIn = async (replica: string, peer: string) =>
    (await links(replicas.get(replica)!.pod.netns)).some((l) => l.ifname === peerInterface(peer));

  it('closes the survivors links to a killed replica without interrupting their members, and re-peers when it is back', async () => {
    const a = members.find((m) => m.conn.networkServiceEndpointName === 'vl3-a');
    const b = members.find((m) => m.conn.networkServiceEndpointName === 'vl3-b');
    assert.ok(a && b, `members on vl3-a and vl3-b: ${members.map((m) => m.conn.networkServiceEndpointName)}`);
    // The names sort a < b < c: a and b ask c, so the links to c live in their namespaces.
    await eventually(async () => {
      assert.ok(await peerLinkIn('vl3-a', 'vl3-c'), 'vl3-a peers with vl3-c');
      assert.ok(await peerLinkIn('vl3-b', 'vl3-c'), 'vl3-b peers with vl3-c');
    }, 20_000);

    const ipB = hostIP(b.conn.context!.ipContext!.srcIpAddrs[0]);
    const echo = await sb.echoServer(b.pod.netns, ipB, PORT);
    const stream = startStream(a.pod.netns, ipB, PORT);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const c = replicas.get('vl3-c')!;
      c.daemon.kill('SIGKILL');
      await eventually(async () => {
        assert.ok(!(await peerLinkIn('vl3-a', 'vl3-c')), 'vl3-a closed its link to the dead vl3-c');
        assert.ok(!(await peerLinkIn('vl3-b', 'vl3-c')), 'vl3-b closed its link to the dead vl3-c');
      }, 30_000);
      c.daemon = await sb.startVl3(c.pod, env(sb));
      await eventually(async () => {
        assert.ok(await peerLinkIn('vl3-a', 'vl3-c'), 'vl3-a peers with vl3-c again');
        assert.ok(await peerLinkIn('vl3-b', 'vl3-c'), 'vl3-b peers with vl3-c again');
      }, 30_000);
      const result = JSON.parse(await stream.finish()) as { sent: number; echoed: number };
      assert.ok(result.sent > 50, `the stream ran (${result.sent} sent)`);
      assert.equal(result.sent - result.echoed, 0, `nothing lost between vl3-a and vl3-b's members`);
    } finally {
      await stream.kill();
      await echo.stop();
    }

    // A new member of the restarted vl3-c reaches members of both survivors (c's own slice is back).
    for (let i = 0; i < 6; i++) {
      const pod = await sb.addPod(sb.node('node1'), `hc${i}`);
      const conn = (await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`)).connections[0];
      if (conn.networkServiceEndpointName !== 'vl3-c') continue;
      for (const [to, port] of [
        [a, PORT + 1],
        [b, PORT + 2],
      ] as const) {
        const ip = hostIP(to.conn.context!.ipContext!.srcIpAddrs[0]);
        const e = await sb.echoServer(to.pod.netns, ip, port);
        try {
          assert.equal((await sb.probe(pod.netns, ['udp', ip, String(port), 'back'])).trim(), 'back');
        } finally {
          await e.stop();
        }
      }
      return;
    }
    assert.fail('no member landed on the restarted vl3-c');
  });
});
