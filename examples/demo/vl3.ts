// The demo's vL3 part: vl3-ipam on node 1, one vL3 replica per node sharing 10.60.0.0/16, and four
// members (two per node) with DNS names; one member reaches each of the others by name.
import type { Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';

const VL3 = 'my-vl3';
const PORT = 5556;
const NAMES = ['redis', 'web', 'db', 'cache'];

export async function demoVl3(sb: Sandbox, say: (line?: string) => void): Promise<void> {
  const [node1, node2] = sb.nodes;
  await sb.startVl3Ipam(node1, { NSM_PREFIX: '10.60.0.0/16' });
  for (const node of [node1, node2]) {
    await sb.startVl3(await sb.addPod(node, `vl3-${node.name}`), {
      NSM_SERVICE_NAMES: VL3,
      NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(node1),
      NSM_VL3_PREFIX: '10.60.0.0/16',
    });
  }
  say();
  say(`vL3 network ${VL3} (10.60.0.0/16, a /24 per replica; vl3-ipam in ${node1.netns})`);
  const members = [];
  for (const [i, name] of NAMES.entries()) {
    const node = i % 2 === 0 ? node1 : node2;
    const pod = await sb.addPod(node, `vl3-${name}`);
    const { connections } = await sb.startClient(pod, `kernel://${VL3}/nsm-1?dnsName=${name}`);
    const ip = connections[0].context!.ipContext!;
    const addr = ip.srcIpAddrs[0].split('/')[0];
    say(
      `  ${name}.${VL3}. = ${addr} on ${node.name} (${pod.netns}), replica ${connections[0].networkServiceEndpointName}`,
    );
    members.push({ pod, name, addr, echo: await sb.echoServer(pod.netns, addr, PORT) });
  }
  const [from, ...others] = members;
  for (const to of others) {
    // Resolved inside the member's namespace, through its resolv.conf and the nsc's DNS forwarder.
    const resolved = (
      await sh('ip', [
        'netns',
        'exec',
        from.pod.netns,
        process.execPath,
        '-e',
        `require('node:dns').promises.lookup('${to.name}', { family: 4 }).then((r) => console.log(r.address), (e) => console.log(e.code))`,
      ])
    ).trim();
    const msg = `hello ${to.name}`;
    const reply =
      resolved === to.addr
        ? (await sb.probe(from.pod.netns, ['udp', resolved, String(PORT), msg])).trim()
        : '';
    say(
      `  ${from.name} -> ${to.name}: resolved ${resolved}, UDP ${reply === msg ? 'ok' : `FAILED (got "${reply}")`}`,
    );
  }
  for (const m of members) await m.echo.stop();
  say(`  try: ip netns exec ${from.pod.netns} ping -c1 web.${VL3}`);
}
