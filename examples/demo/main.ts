// `npm start`: the demo mesh on this machine. Two nodes and a few pods, all network namespaces;
// a registry; an nsmgr and a kernel forwarder per node; an icmp-responder endpoint on node 2; a
// client on node 2 (local path: one veth pair) and one on node 1 (remote path: VXLAN). It prints
// each connection, proves traffic flows both ways on each, then builds the CNF chain
// (client → firewall → passthrough-1 → passthrough-2 → responder, chain.ts) and shows it hop by
// hop, then a vL3 network of four named members on both nodes (vl3.ts), and runs until Ctrl-C,
// then removes everything it created.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { DEMO_MARKER } from '../../nsmctl/targets.js';
import { ensureDebianPackages, programOf } from '../../sdk/tools/debian-packages.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links } from '../../sdk/tools/sandbox/shell.js';
import { showChain } from './chain.js';
import { demoL7 } from './l7.js';
import { demoVl3 } from './vl3.js';

const SERVICE = 'icmp-responder';
const ECHO_PORT = 5555;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

async function endpointInterface(pod: Pod, conn: Connection): Promise<{ ifname: string; addrs: string[] }> {
  const ids = new Set(conn.path?.pathSegments.map((s) => s.id) ?? []);
  const found = (await links(pod.netns)).find(
    (l) => l.ifalias && [...ids].some((id) => l.ifalias!.includes(id)),
  );
  if (!found) return { ifname: '?', addrs: [] };
  return { ifname: found.ifname, addrs: await addresses(pod.netns, found.ifname) };
}

async function checkTraffic(
  sb: Sandbox,
  from: Pod,
  fromIP: string,
  to: Pod,
  toIP: string,
): Promise<string[]> {
  const results: string[] = [];
  const server = await sb.echoServer(to.netns, toIP, ECHO_PORT);
  try {
    for (const proto of ['tcp', 'udp']) {
      const msg = `hello-${proto}-${Date.now()}`;
      const reply = (await sb.probe(from.netns, [proto, toIP, String(ECHO_PORT), msg])).trim();
      results.push(
        `${proto.toUpperCase()} ${fromIP} -> ${toIP}: ${reply === msg ? 'ok' : `FAILED (got "${reply}")`}`,
      );
    }
  } finally {
    await server.stop();
  }
  return results;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('demo: run as root (it creates network namespaces)\n');
    process.exit(2);
  }
  // The firewall CNF loads nftables rules; the L7 gateway runs HAProxy: installed here when missing.
  const tools = await ensureDebianPackages([programOf('nftables', 'nft'), programOf('haproxy', 'haproxy')], {
    install: true,
    log: (l) => say(`demo: ${l}`),
  });
  if (tools) {
    process.stderr.write(`demo: ${tools}\n`);
    process.exit(2);
  }
  say('Starting the demo mesh: 2 nodes, registry, nsmgr + forwarder per node ...');
  const t0 = Date.now();
  const sb = await Sandbox.create({ nodes: 2, allowForeignNetns: false }); // as in production: clients wire only their own pods
  // nsmctl without flags finds this mesh (not the tests' sandboxes) by this marker.
  writeFileSync(join(sb.runDir, DEMO_MARKER), `${process.pid}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('\nStopping: closing connections, stopping daemons, deleting namespaces ...');
    await sb.close();
    say('Done: everything the demo created is gone.');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const [node1, node2] = sb.nodes;
    say(`  sandbox ${sb.id}: ${sb.nodes.map((n) => `${n.name} (${n.netns}, underlay ${n.ip})`).join(', ')}`);
    say(`  registry ${sb.registryURL}`);
    const nsePod = await sb.addPod(node2, 'nse-1');
    await sb.startEndpoint(nsePod, {
      NSM_SERVICE_NAMES: SERVICE,
      NSM_CIDR_PREFIX: '172.16.1.0/24',
      NSM_LABELS: 'app=icmp',
    });
    say(`  endpoint nse-1 on node2 serves "${SERVICE}" with addresses from 172.16.1.0/24`);
    const localPod = await sb.addPod(node2, 'nsc-local');
    const remotePod = await sb.addPod(node1, 'nsc-remote');
    const clients = [
      { pod: localPod, kind: 'local (veth pair on node2)' },
      { pod: remotePod, kind: 'remote (VXLAN node1 -> node2)' },
    ];
    for (const c of clients) {
      const { connections } = await sb.startClient(c.pod, `kernel://${SERVICE}/nsm-1`);
      const conn = connections[0];
      const clientAddrs = await addresses(c.pod.netns, 'nsm-1');
      const nse = await endpointInterface(nsePod, conn);
      say();
      say(`Connection ${conn.id}: ${c.kind}`);
      say(`  network service : ${conn.networkService}`);
      say(`  endpoint        : ${conn.networkServiceEndpointName}`);
      say(`  client side     : ${c.pod.netns} nsm-1 ${clientAddrs.join(', ')}`);
      say(`  endpoint side   : ${nsePod.netns} ${nse.ifname} ${nse.addrs.join(', ')}`);
      say(`  path            : ${conn.path?.pathSegments.map((s) => s.name).join(' -> ')}`);
      const clientIP = clientAddrs[0]?.split('/')[0];
      const nseIP = nse.addrs[0]?.split('/')[0];
      if (!clientIP || !nseIP) throw new Error('the connection has no addresses');
      for (const line of [
        ...(await checkTraffic(sb, c.pod, clientIP, nsePod, nseIP)),
        ...(await checkTraffic(sb, nsePod, nseIP, c.pod, clientIP)),
      ]) {
        say(`  traffic         : ${line}`);
      }
    }
    if (!process.argv.includes('--l7')) {
      await showChain(sb, say);
      await demoVl3(sb, say);
    }
    await demoL7(sb, say);
    say();
    say(`Demo mesh ready in ${((Date.now() - t0) / 1000).toFixed(1)} s. Logs: ${sb.runDir}/logs`);
    say('Reach it from this host (any NetworkService/MonitorConnection/registry gRPC client works):');
    for (const n of sb.nodes) say(`  nsmgr ${n.name}: unix://${n.nsmgrSocket} (also serves both registries)`);
    say(`  registry: ${sb.registryURL} inside ${node1.netns} (ip netns exec ${node1.netns} ...)`);
    say(
      `  a KERNEL request needs an inodeURL, e.g. file:///var/run/netns/${localPod.netns} (nsm-1 is taken there)`,
    );
    say('Try: ip netns list; ip netns exec <pod> ip addr. Press Ctrl-C to stop and clean up.');
    setInterval(() => {}, 1 << 30);
  } catch (e) {
    if (stopping) return; // Ctrl-C during start-up: stop() is already cleaning up
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    await sb.close();
    process.exit(1);
  }
}

await main();
