// The CNF chain of issue 11 in a sandbox: one NetworkService file routes
//   client → firewall → passthrough-1 → passthrough-2 → icmp-responder
// with the hops alternating between node1 and node2 (VXLAN on every hop), and a second
// passthrough-1 replica for healing. Shared by the chain e2e test, the demo and the bench.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { type Daemon, type Pod, type Sandbox, SCRIPTS } from './sandbox.js';
import { sh } from './shell.js';

export const CHAIN_SERVICE = 'secure';
export const ALLOWED_PORT = 7201;
export const DENIED_PORT = 7202;

export const CHAIN_YAML = `# client → firewall → passthrough-1 → passthrough-2 → responder (upstream nse-composition's shape)
apiVersion: networkservicemesh.io/v1
kind: NetworkService
metadata:
  name: ${CHAIN_SERVICE}
spec:
  payload: IP
  matches:
    - source_selector: {app: firewall}
      routes: [{destination_selector: {app: passthrough-1}}]
    - source_selector: {app: passthrough-1}
      routes: [{destination_selector: {app: passthrough-2}}]
    - source_selector: {app: passthrough-2}
      routes: [{destination_selector: {app: responder}}]
    - routes: [{destination_selector: {app: firewall}}]
`;

/** A service whose matches loop (p1 → p2 → p1), and route one client to labels nobody has. */
export const LOOP_SERVICE = 'loopy';
export const LOOP_YAML = `spec:
  name: ${LOOP_SERVICE}
  payload: IP
  matches:
    - source_selector: {app: stranger}
      routes: [{destination_selector: {app: nobody}}]
    - source_selector: {app: passthrough-1}
      routes: [{destination_selector: {app: passthrough-2}}]
    - source_selector: {app: passthrough-2}
      routes: [{destination_selector: {app: passthrough-1}}]
    - routes: [{destination_selector: {app: passthrough-1}}]
`;

export const FIREWALL_YAML = `default: deny
rules:
  - {name: ping, action: allow, proto: icmp}
  - {name: liveness, action: allow, proto: tcp, port: 9}
  - {name: echo-tcp, action: allow, proto: tcp, port: ${ALLOWED_PORT}}
  - {name: echo-udp, action: allow, proto: udp, port: ${ALLOWED_PORT}}
  - {name: blocked, action: deny, proto: tcp, port: ${DENIED_PORT}}
`;

export interface Chain {
  firewall: Pod;
  p1: Pod;
  p1b: Pod;
  p2: Pod;
  responder: Pod;
  daemons: Map<string, Daemon>;
  rulesFile: string;
}

/** Applies the service, starts the CNFs and the responder (not the client). */
export async function startChain(sb: Sandbox, env: Record<string, string> = {}): Promise<Chain> {
  const file = join(sb.runDir, 'chain.yaml');
  writeFileSync(file, `${CHAIN_YAML}---\n${LOOP_YAML}`);
  const rulesFile = join(sb.runDir, 'firewall.yaml');
  writeFileSync(rulesFile, FIREWALL_YAML);
  await sb.apply([file]);
  const [n1, n2] = [sb.node('node1'), sb.node('node2')];
  const daemons = new Map<string, Daemon>();
  const responder = await sb.addPod(n1, 'responder');
  daemons.set(
    'responder',
    await sb.startEndpoint(responder, {
      NSM_SERVICE_NAMES: CHAIN_SERVICE,
      NSM_LABELS: 'app=responder',
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: '172.16.7.0/24',
      NSM_REGISTER_SERVICE: 'false',
      ...env,
    }),
  );
  const cnf = async (
    name: string,
    node: typeof n1,
    script: string,
    app: string,
    extra: Record<string, string> = {},
  ) => {
    const pod = await sb.addPod(node, name);
    daemons.set(
      name,
      await sb.startCnf(pod, script, {
        NSM_SERVICE_NAMES: CHAIN_SERVICE,
        NSM_LABELS: `app=${app}`,
        ...env,
        ...extra,
      }),
    );
    return pod;
  };
  const both = { NSM_SERVICE_NAMES: `${CHAIN_SERVICE},${LOOP_SERVICE}` };
  const p2 = await cnf('passthrough-2', n2, SCRIPTS.passthrough, 'passthrough-2', both);
  const p1 = await cnf('passthrough-1', n1, SCRIPTS.passthrough, 'passthrough-1', both);
  const p1b = await cnf('passthrough-1b', n1, SCRIPTS.passthrough, 'passthrough-1', both);
  const firewall = await cnf('firewall', n2, SCRIPTS.firewall, 'firewall', { NSM_FIREWALL_RULES: rulesFile });
  return { firewall, p1, p1b, p2, responder, daemons, rulesFile };
}

/** The firewall's counters by rule name (read with nft in its namespace). */
export async function firewallCounters(fw: Pod): Promise<Record<string, number>> {
  const script = join(SCRIPTS.firewall, '..', 'counters.js');
  const out = await sh('ip', ['netns', 'exec', fw.netns, process.execPath, script]);
  const counters: Record<string, number> = {};
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const c = JSON.parse(line) as { rule: string; packets: number };
    counters[c.rule] = c.packets;
  }
  return counters;
}

/** The names of the endpoints on a connection's path, in order (nsmgrs and forwarders left out). */
export function hops(conn: { path?: { pathSegments: { name: string }[] } }): string[] {
  return (conn.path?.pathSegments ?? []).map((s) => s.name).filter((n) => !/^(nsmgr|forwarder)-/.test(n));
}

/**
 * Whether the client's connection carries traffic end to end now: a TCP connect from its address to
 * the far address, port 9 (the liveness check's: any answer, even a RST, proves the path).
 */
export async function chainAlive(client: Pod, ifname = 'nsm-1'): Promise<boolean> {
  const out = await sh('ip', ['-n', client.netns, '-j', 'addr', 'show', 'dev', ifname]).catch(() => '');
  if (!out) return false;
  const local = (JSON.parse(out) as { addr_info: { family: string; local: string }[] }[])[0]?.addr_info.find(
    (a) => a.family === 'inet',
  )?.local;
  const routes = await sh('ip', ['-n', client.netns, '-j', 'route', 'show', 'dev', ifname]).catch(() => '[]');
  const peer = (JSON.parse(routes) as { dst: string }[])[0]?.dst;
  if (!local || !peer) return false;
  const js = `const s=require('net').connect({host:'${peer}',port:9,localAddress:'${local}'});const t=setTimeout(()=>process.exit(1),500);s.on('connect',()=>process.exit(0));s.on('error',e=>process.exit(e.code==='ECONNREFUSED'?0:1));`;
  return sh('ip', ['netns', 'exec', client.netns, process.execPath, '-e', js]).then(
    () => true,
    () => false,
  );
}

/**
 * Starts a client in a new pod on node1 for `nsurl` and waits (50 tries, 100 ms apart) until its
 * connection carries traffic: each CNF joins its interfaces just after it answered (the forwarder
 * makes the one towards the client only then), so the client has its connection a moment early.
 */
export async function startChainClient(
  sb: Sandbox,
  nsurl: string,
  name = 'nsc',
): Promise<{ pod: Pod; daemon: Daemon; conn: Connection }> {
  const pod = await sb.addPod(sb.node('node1'), name);
  const { daemon, connections } = await sb.startClient(pod, nsurl);
  for (let i = 0; i < 50 && !(await chainAlive(pod)); i++) await new Promise((r) => setTimeout(r, 100));
  return { pod, daemon, conn: connections[0] };
}
