import {
  ALLOWED_PORT,
  CHAIN_SERVICE,
  CHAIN_YAML,
  DENIED_PORT,
  FIREWALL_YAML,
  firewallCounters,
  hops,
  startChain,
  startChainClient,
} from '../../sdk/tools/sandbox/chain.js';
import type { Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links } from '../../sdk/tools/sandbox/shell.js';

async function describePod(pod: Pod): Promise<string> {
  const own = (await links(pod.netns)).filter((l) => l.ifname !== 'lo');
  const parts = await Promise.all(
    own.map(async (l) => `${l.ifname} ${(await addresses(pod.netns, l.ifname)).join(',')}`),
  );
  return `${pod.node.name}  ${pod.netns}  ${parts.join('  ')}`;
}

async function echo(sb: Sandbox, from: Pod, to: Pod, toIP: string, port: number): Promise<string> {
  const server = await sb.echoServer(to.netns, toIP, port);
  try {
    const reply = (await sb.probe(from.netns, ['tcp', toIP, String(port), 'hello'])).trim();
    return reply === 'hello' ? 'passes' : `FAILED (got "${reply}")`;
  } catch {
    return 'dropped';
  } finally {
    await server.stop();
  }
}

export async function showChain(sb: Sandbox, say: (line?: string) => void): Promise<void> {
  say();
  say('CNF chain: one NetworkService (upstream CRD shape), applied with nsm-apply:');
  for (const line of CHAIN_YAML.trimEnd().split('\n')) say(`  | ${line}`);
  say('firewall rules (examples/firewall, nftables in its own namespace):');
  for (const line of FIREWALL_YAML.trimEnd().split('\n')) say(`  | ${line}`);
  const chain = await startChain(sb);
  const { pod: client, conn } = await startChainClient(sb, `kernel://${CHAIN_SERVICE}/nsm-1`, 'nsc-chain');
  const byName = new Map(
    [client, chain.firewall, chain.p1, chain.p1b, chain.p2, chain.responder].map((p) => [p.name, p]),
  );
  say();
  say(`Connection ${conn.id} through the chain (${hops(conn).join(' → ')}):`);
  for (const [i, name] of hops(conn).entries()) {
    const pod = byName.get(name === 'nsc' ? 'nsc-chain' : name);
    say(`  hop ${i}: ${name.padEnd(15)} ${pod ? await describePod(pod) : '?'}`);
  }
  say(`  path: ${conn.path?.pathSegments.map((s) => s.name).join(' -> ')}`);
  const ip = conn.context!.ipContext!;
  const [src, dst] = [ip.srcIpAddrs[0].split('/')[0], ip.dstIpAddrs[0].split('/')[0]];
  say(
    `  TCP ${src} -> ${dst}:${ALLOWED_PORT} (allowed): ${await echo(sb, client, chain.responder, dst, ALLOWED_PORT)}`,
  );
  say(
    `  TCP ${dst} -> ${src}:${ALLOWED_PORT} (allowed): ${await echo(sb, chain.responder, client, src, ALLOWED_PORT)}`,
  );
  say(
    `  TCP ${src} -> ${dst}:${DENIED_PORT} (denied):  ${await echo(sb, client, chain.responder, dst, DENIED_PORT)}`,
  );
  const counters = await firewallCounters(chain.firewall);
  say(
    `  firewall counters (packets): ${Object.entries(counters)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  say(`  (read them yourself: ip netns exec ${chain.firewall.netns} nft list table inet nsm_firewall)`);
}
