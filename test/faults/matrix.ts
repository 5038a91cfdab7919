// The fault matrix: for {local, remote} connections × {forwarder, nsmgr, registry, endpoint, client,
// dataplane-interrupt, orphan} faults, one scenario each, run on a fresh sandbox with UDP traffic
// flowing over the connection during the fault. Shared by faults.test.ts (which asserts the
// promises) and report.ts (which measures them against the targets).
//
//   node1: registry, nsmgr, forwarder, [nsc pod]   (remote: the client is here)
//   node2: nsmgr, forwarder, [nse-a pod] [nse-b pod] (both endpoints of "faults"), [nsc pod] (local)
//
// A scenario: start both endpoints (+ an echo server in each pod), snapshot the kernel state of
// every namespace (the baseline), start the nsc, start a 20 ms UDP stream from the client pod to the
// peer address of nsm-1, inject the fault, wait for recovery (with a deadline), observe two token
// lifetimes more (refreshes after a restart must not disturb the traffic), measure, then close the
// client and check that every namespace is back to the baseline.
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
} from '../../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';
import { parseDuration } from '../../sdk/tools/config/types.js';
import type { StreamStats } from '../../sdk/tools/sandbox/probe.js';
import {
  type Daemon,
  type Pod,
  Sandbox,
  type SandboxNode,
  type Stream,
} from '../../sdk/tools/sandbox/sandbox.js';
import { links, sh } from '../../sdk/tools/sandbox/shell.js';
import { close, kernelMechanism, newConnection, request } from '../e2e/helpers.js';
import {
  added,
  addedLinks,
  interfaceAddresses,
  type KernelLink,
  type KernelState,
  sandboxState,
} from './kernel.js';

export type Kind = 'local' | 'remote';
export type Fault =
  | 'forwarder'
  | 'nsmgr'
  | 'registry'
  | 'endpoint'
  | 'client'
  | 'dataplane-interrupt'
  | 'orphan';
/** Which node's daemon a forwarder/nsmgr/orphan fault hits on a remote connection. */
export type Side = 'client' | 'endpoint';
/**
 * What the mesh promises for a fault: `uninterrupted` (not one datagram lost), `restored` (traffic
 * comes back), `cleaned-up` (every interface of the connection is removed).
 */
export type Promised = 'uninterrupted' | 'restored' | 'cleaned-up';

export interface Cell {
  id: string;
  kind: Kind;
  fault: Fault;
  side: Side;
  promise: Promised;
  /** The surviving endpoint keeps the connection: addresses must not change. */
  addressesKept: boolean;
  /** The kernel interfaces must be the very same (same ifindex: kept, never swapped). */
  interfacesKept: boolean;
  /** Restarted after the kill (forwarder, nsmgr, registry; orphan restarts nsmgr and forwarder). */
  restart: boolean;
  description: string;
}

const FAULT_INFO: Record<
  Fault,
  Pick<Cell, 'promise' | 'addressesKept' | 'interfacesKept' | 'restart'> & { what: string }
> = {
  forwarder: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the forwarder, restart it; it adopts the interfaces',
  },
  nsmgr: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the nsmgr, restart it; clients and endpoints reconnect',
  },
  registry: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the registry, restart it; registrations come back through refresh',
  },
  endpoint: {
    promise: 'restored',
    addressesKept: false,
    interfacesKept: false,
    restart: false,
    what: 'kill -9 the serving endpoint (and the echo server in its pod); the client reselects the other one',
  },
  client: {
    promise: 'cleaned-up',
    addressesKept: false,
    interfacesKept: false,
    restart: false,
    what: 'kill -9 the nsc; server-side expiry removes its interfaces',
  },
  'dataplane-interrupt': {
    promise: 'restored',
    addressesKept: true,
    interfacesKept: false,
    restart: false,
    what: '`ip link set nsm-1 down` in the client pod; heal restores traffic',
  },
  orphan: {
    promise: 'cleaned-up',
    addressesKept: false,
    interfacesKept: false,
    restart: true,
    what: 'kill -9 the nsc, the nsmgr and the forwarder of a node, restart both daemons; the new forwarder removes the interfaces no connection claims (grace period)',
  },
};

export const FAULTS: Fault[] = [
  'forwarder',
  'nsmgr',
  'registry',
  'endpoint',
  'client',
  'dataplane-interrupt',
  'orphan',
];

export function cell(kind: Kind, fault: Fault, side: Side = 'client'): Cell {
  const info = FAULT_INFO[fault];
  const sided = kind === 'remote' && (fault === 'forwarder' || fault === 'nsmgr' || fault === 'orphan');
  return {
    id: `${kind}/${fault}${sided ? `@${side}-node` : ''}`,
    kind,
    fault,
    side,
    promise: info.promise,
    addressesKept: info.addressesKept,
    interfacesKept: info.interfacesKept,
    restart: info.restart,
    description: info.what,
  };
}

/** Every cell: local and remote × every fault, and the endpoint-side node for remote daemon faults. */
export function matrix(): Cell[] {
  const cells: Cell[] = [];
  for (const kind of ['local', 'remote'] as const) {
    for (const fault of FAULTS) {
      cells.push(cell(kind, fault, 'client'));
      if (kind === 'remote' && (fault === 'forwarder' || fault === 'nsmgr'))
        cells.push(cell(kind, fault, 'endpoint'));
    }
  }
  return cells;
}

/** Short lifetimes so refresh, expiry and heal happen within seconds. */
export const FAULT_ENV: Record<string, string> = {
  NSM_MAX_TOKEN_LIFETIME: '3s',
  NSM_EXPIRE_PERIOD: '3s',
  NSM_LIVENESS_CHECK_INTERVAL: '200ms',
  NSM_LIVENESS_CHECK_TIMEOUT: '1s',
};

export const SERVICE = 'faults';
export const ECHO_PORT = 7100;
export const STREAM_INTERVAL_MS = 20;
/** Generous deadline for "eventually": recovered, reconnected, cleaned up. */
export const DEADLINE_MS = 20_000;
/** Client death: its interfaces must be gone within the token lifetime plus this margin. */
export const CLEANUP_MARGIN_MS = 5_000;
/** Where the logs of a failing cell's sandbox are copied before it is closed. */
export const KEPT_LOGS_DIR = '/tmp/nsm-faults';

export interface RunOptions {
  /** Environment for every daemon (default FAULT_ENV). */
  env?: Record<string, string>;
  /** Keep a copy of the sandbox logs when something failed (default true). */
  keepLogsOnFailure?: boolean;
  log?: (line: string) => void;
}

export interface CellResult {
  cell: Cell;
  sandbox: string;
  env: Record<string, string>;
  /** Every promise the scenario broke (empty: all kept). */
  failures: string[];
  /** Datagrams lost on the connection (null: no stream measurement, e.g. client death). */
  lost: number | null;
  sent: number | null;
  /** Sum of the periods without any reply after the fault (ms). */
  noTrafficMs: number | null;
  /** Longest period without any reply (ms). */
  longestGapMs: number | null;
  /** From the fault until the end of the last outage (0: never interrupted; null: never restored). */
  restoreMs: number | null;
  /** Client/orphan faults: from the kill until every interface of the connection was gone (null: never). */
  cleanupMs: number | null;
  /** The restarted daemon holds the connection again (null: not applicable). */
  reconnected: boolean | null;
  /** Registry fault: the endpoints and forwarders are registered again. */
  registrationsBack: boolean | null;
  /** Restart faults: a new connection can be made after the restart. */
  newConnections: boolean | null;
  endpointBefore: string;
  endpointAfter: string;
  addressesBefore: { client: string[]; endpoint: string[] };
  addressesAfter: { client: string[]; endpoint: string[] } | null;
  addressesKept: boolean | null;
  interfacesKept: boolean | null;
  /** Kernel objects beyond the connection's own two interfaces, once recovered. */
  stray: string[];
  /** Kernel objects left in any namespace after the client closed (or expired). */
  leaked: string[];
  stream: StreamStats | null;
  faultAt: number;
  /** Failed set-ups before this run (the machine was too loaded to make the first connection). */
  setupRetries?: string[];
  logs?: string;
  timeline: string[];
}

const open = new Set<Sandbox>();

async function openSandbox(env: Record<string, string>): Promise<Sandbox> {
  const sb = await Sandbox.create({ nodes: 2, env });
  open.add(sb);
  return sb;
}

async function closeSandbox(sb: Sandbox): Promise<void> {
  open.delete(sb);
  await sb.close();
}

/** Closes every sandbox a running cell still has (for a report interrupted with Ctrl-C). */
export async function closeOpenSandboxes(): Promise<void> {
  await Promise.allSettled([...open].map((sb) => closeSandbox(sb)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(
  what: () => Promise<T | undefined>,
  deadlineMs: number,
  everyMs = 50,
): Promise<T | undefined> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await what().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) return undefined;
    await sleep(everyMs);
  }
}

/** The connections a daemon's MonitorConnections holds (its INITIAL_STATE_TRANSFER). */
export async function monitoredConnections(url: string, timeoutMs = 3_000): Promise<Connection[]> {
  const pool = new ClientPool();
  try {
    return await new Promise<Connection[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        void stream.close();
        reject(new Error(`no INITIAL_STATE_TRANSFER from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const stream = pool.monitor(
        url,
        { pathSegments: [], networkServices: [] },
        (ev: ConnectionEvent) => {
          if (ev.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) return;
          clearTimeout(timer);
          void stream.close();
          resolve(Object.values(ev.connections));
        },
        (err) => {
          clearTimeout(timer);
          reject(err ?? new Error(`monitor stream from ${url} ended`));
        },
      );
    });
  } finally {
    await pool.close();
  }
}

/** Names of the endpoints registered (as the nsmgr's registry proxy answers). */
export async function registeredEndpoints(node: SandboxNode): Promise<string[]> {
  const reg = newNseRegistryClient(`unix://${node.nsmgrSocket}`);
  const { ctx, cancel } = withTimeout(background(), 3_000);
  const names: string[] = [];
  const query: NetworkServiceEndpoint = {
    name: '',
    networkServiceNames: [],
    networkServiceLabels: {},
    url: '',
    expirationTime: undefined,
    initialRegistrationTime: undefined,
    pathIds: [],
  };
  try {
    await reg.find(ctx, { networkServiceEndpoint: query, watch: false }, (r) => {
      const nse = (r as { networkServiceEndpoint?: NetworkServiceEndpoint }).networkServiceEndpoint;
      if (nse && !(r as { deleted?: boolean }).deleted) names.push(nse.name);
    });
  } finally {
    cancel();
    reg.close();
  }
  return names.sort();
}

/** The files of every socket the sandbox's endpoints listen on (as startEndpoint names them). */
export function endpointSocket(sb: Sandbox, pod: Pod): string {
  return `unix://${join(sb.runDir, pod.node.name, `nse-${pod.name}.sock`)}`;
}

interface Setup {
  sb: Sandbox;
  clientPod: Pod;
  nsePods: Pod[];
  nseDaemons: Map<string, Daemon>;
  echo: Map<string, Daemon>;
  sparePod: Pod;
  baseline: KernelState;
}

async function setUp(cell: Cell, env: Record<string, string>): Promise<Setup> {
  const sb = await openSandbox(env);
  try {
    const node2 = sb.node('node2');
    const nsePods: Pod[] = [];
    const nseDaemons = new Map<string, Daemon>();
    const echo = new Map<string, Daemon>();
    for (const [name, cidr] of [
      ['nse-a', '172.16.1.0/24'],
      ['nse-b', '172.16.2.0/24'],
    ]) {
      const pod = await sb.addPod(node2, name);
      nsePods.push(pod);
      nseDaemons.set(
        name,
        await sb.startEndpoint(pod, { NSM_SERVICE_NAMES: SERVICE, NSM_CIDR_PREFIX: cidr }),
      );
      echo.set(name, await sb.echoServer(pod.netns, '0.0.0.0', ECHO_PORT));
    }
    const clientNode = sb.node(cell.kind === 'local' ? 'node2' : 'node1');
    const clientPod = await sb.addPod(clientNode, 'nsc');
    const sparePod = await sb.addPod(clientNode, 'spare');
    const baseline = await sandboxState(sb);
    return { sb, clientPod, nsePods, nseDaemons, echo, sparePod, baseline };
  } catch (e) {
    await closeSandbox(sb);
    throw e;
  }
}

/** The node whose daemon the fault hits. */
function faultNode(sb: Sandbox, cell: Cell): SandboxNode {
  if (cell.kind === 'local') return sb.node('node2');
  return sb.node(cell.side === 'client' ? 'node1' : 'node2');
}

/** The connection's interfaces: extra links in the client pod and in the endpoint pods. */
function connectionLinks(
  s: Setup,
  now: KernelState,
): { client: KernelLink[]; endpoint: KernelLink[]; others: KernelLink[] } {
  const extra = addedLinks(s.baseline, now);
  const nseNs = new Set(s.nsePods.map((p) => p.netns));
  return {
    client: extra.filter((l) => l.netns === s.clientPod.netns),
    endpoint: extra.filter((l) => nseNs.has(l.netns)),
    others: extra.filter((l) => l.netns !== s.clientPod.netns && !nseNs.has(l.netns)),
  };
}

function podOf(s: Setup, netns: string): string {
  return s.sb.pods.find((p) => p.netns === netns)?.name ?? netns;
}

/** Set-up attempts per cell: a loaded machine sometimes fails the first request before any fault. */
const SETUP_ATTEMPTS = 3;

/**
 * Runs one cell on a fresh sandbox; never throws for a broken promise (see `failures`). A cell
 * whose set-up failed before the fault (sandbox, first connection, first traffic) is run again on a
 * new sandbox, up to SETUP_ATTEMPTS times.
 */
export async function runCell(cell: Cell, opts: RunOptions = {}): Promise<CellResult> {
  let r: CellResult | undefined;
  const earlier: string[] = [];
  for (let attempt = 1; attempt <= SETUP_ATTEMPTS; attempt++) {
    r = await attemptCell(cell, opts);
    const setupOnly =
      r.faultAt === 0 && r.failures.length > 0 && r.failures.every((f) => f.startsWith('scenario error'));
    if (!setupOnly) break;
    earlier.push(`attempt ${attempt} (${r.sandbox}): ${r.failures.join('; ')}`);
    opts.log?.(`  [${cell.id}] set-up failed, ${attempt < SETUP_ATTEMPTS ? 'trying again' : 'giving up'}`);
  }
  r!.setupRetries = earlier;
  return r!;
}

async function attemptCell(cell: Cell, opts: RunOptions): Promise<CellResult> {
  const env = opts.env ?? FAULT_ENV;
  const lifetimeMs = parseDuration(env.NSM_MAX_TOKEN_LIFETIME ?? '10m');
  const t0 = Date.now();
  const timeline: string[] = [];
  const note = (line: string) => {
    const l = `+${((Date.now() - t0) / 1000).toFixed(2)}s ${line}`;
    timeline.push(l);
    opts.log?.(`  [${cell.id}] ${l}`);
  };
  const result: CellResult = {
    cell,
    sandbox: '',
    env,
    failures: [],
    lost: null,
    sent: null,
    noTrafficMs: null,
    longestGapMs: null,
    restoreMs: null,
    cleanupMs: null,
    reconnected: null,
    registrationsBack: null,
    newConnections: null,
    endpointBefore: '',
    endpointAfter: '',
    addressesBefore: { client: [], endpoint: [] },
    addressesAfter: null,
    addressesKept: null,
    interfacesKept: null,
    stray: [],
    leaked: [],
    stream: null,
    faultAt: 0,
    timeline,
  };
  const fail = (why: string) => {
    const short = why.length > 700 ? `${why.slice(0, 700)}…` : why;
    note(`FAILED: ${short}`);
    result.failures.push(short);
  };
  let s: Setup;
  try {
    s = await setUp(cell, env);
  } catch (e) {
    fail(`scenario error: sandbox set-up failed: ${e instanceof Error ? e.message : String(e)}`);
    return result;
  }
  const { sb } = s;
  result.sandbox = sb.id;
  note(`sandbox ${sb.id} ready`);
  let stream: Stream | undefined;
  let nsc: Daemon | undefined;
  try {
    const started = await sb.startClient(s.clientPod, `kernel://${SERVICE}/nsm-1`);
    nsc = started.daemon;
    const clientName = s.clientPod.name;
    note(`connected to ${started.connections[0].networkServiceEndpointName}`);

    stream = await sb.startStream(s.clientPod, '@nsm-1', ECHO_PORT, STREAM_INTERVAL_MS);
    const flowing = await until(
      async () => ((await stream!.stats()).received > 0 ? true : undefined),
      10_000,
    );
    if (!flowing) {
      const st = await stream.stats();
      const routes = await sh('ip', ['-n', s.clientPod.netns, '-br', 'route']).catch((e: Error) => e.message);
      const addrs = await sh('ip', ['-n', s.clientPod.netns, '-br', 'addr']).catch((e: Error) => e.message);
      throw new Error(
        `no traffic over the connection before the fault (target "${st.target}", sent ${st.sent}, send errors ${st.sendErrors}; client pod addresses: ${addrs.trim().replace(/\s+/g, ' ')}; routes: ${routes.trim().replace(/\n/g, '; ')})`,
      );
    }

    // A steady state before the fault: a second of traffic without an outage, exactly the
    // connection's two interfaces, with addresses, and the same ones at both ends of that second (on
    // a loaded machine a first connection can still be healed or re-made right after it was made).
    const steady = await until(
      async () => {
        const st0 = await stream!.stats();
        const k0 = await sandboxState(sb);
        await sleep(1_000);
        const st1 = await stream!.stats();
        const k1 = await sandboxState(sb);
        const l0 = connectionLinks(s, k0);
        const l1 = connectionLinks(s, k1);
        const one = (l: ReturnType<typeof connectionLinks>) =>
          l.client.length === 1 && l.endpoint.length === 1 && l.others.length === 0;
        if (!one(l0) || !one(l1)) return undefined;
        if (
          l0.client[0].ifindex !== l1.client[0].ifindex ||
          l0.endpoint[0].ifindex !== l1.endpoint[0].ifindex
        )
          return undefined;
        const replies = st1.received - st0.received;
        const outage = st1.gaps.some((g) => (g.to ?? st1.now) > st0.now && g.lost > 0);
        const quiet = outage || (st1.lastReplyAt ?? 0) < st1.now - 200;
        if (quiet || replies < (0.5 * 1_000) / STREAM_INTERVAL_MS) return undefined;
        const client = await interfaceAddresses(s.clientPod.netns, 'nsm-1');
        const endpoint = await interfaceAddresses(l1.endpoint[0].netns, l1.endpoint[0].ifname);
        if (client.length === 0 || endpoint.length === 0) return undefined;
        return { links: l1, addresses: { client, endpoint } };
      },
      15_000,
      0,
    );
    if (!steady) {
      const now = await sandboxState(sb);
      throw new Error(
        `no steady connection before the fault: interfaces ${JSON.stringify(
          addedLinks(s.baseline, now).map((l) => `${podOf(s, l.netns)}:${l.ifname}#${l.ifindex}`),
        )}`,
      );
    }
    const clientLink = steady.links.client[0];
    const endpointLink = steady.links.endpoint[0];
    result.addressesBefore = steady.addresses;
    result.endpointBefore = podOf(s, endpointLink.netns);

    // ---- the fault ----
    const node = faultNode(sb, cell);
    await stream.mark(); // lost datagrams count from here
    result.faultAt = Date.now();
    note(`fault: ${cell.description} (${cell.fault === 'registry' ? 'node1' : node.name})`);
    let faultDoneAt = result.faultAt;
    const gone = (d: Daemon | undefined) => {
      d?.kill('SIGKILL');
      return d ? d.exited() : Promise.resolve(null);
    };
    switch (cell.fault) {
      case 'forwarder':
        await gone(node.forwarder);
        faultDoneAt = Date.now();
        await sb.startForwarder(node).then(
          () => note('forwarder restarted'),
          (e: Error) => fail(`forwarder restart: ${e.message}`),
        );
        break;
      case 'nsmgr':
        await gone(node.nsmgr);
        faultDoneAt = Date.now();
        await sb.startNsmgr(node).then(
          () => note('nsmgr restarted'),
          (e: Error) => fail(`nsmgr restart: ${e.message}`),
        );
        break;
      case 'registry':
        await gone(sb.registry);
        faultDoneAt = Date.now();
        await sb.restartRegistry().then(
          () => note('registry restarted'),
          (e: Error) => fail(`registry restart: ${e.message}`),
        );
        break;
      case 'endpoint': {
        const name = result.endpointBefore;
        await Promise.all([gone(s.nseDaemons.get(name)), gone(s.echo.get(name))]);
        faultDoneAt = Date.now();
        break;
      }
      case 'client':
        await gone(nsc);
        faultDoneAt = Date.now();
        break;
      case 'dataplane-interrupt':
        await sh('ip', ['-n', s.clientPod.netns, 'link', 'set', 'nsm-1', 'down']);
        faultDoneAt = Date.now();
        break;
      case 'orphan':
        await Promise.all([gone(nsc), gone(node.nsmgr), gone(node.forwarder)]);
        faultDoneAt = Date.now();
        await sb.startNsmgr(node).then(
          () => note('nsmgr restarted'),
          (e: Error) => fail(`nsmgr restart: ${e.message}`),
        );
        await sb.startForwarder(node).then(
          () => note('forwarder restarted'),
          (e: Error) => fail(`forwarder restart: ${e.message}`),
        );
        break;
    }
    note('fault injected');

    // ---- recovery ----
    if (cell.promise === 'cleaned-up') {
      // Poll just the two namespaces (one `ip link` each), so the measurement adds little.
      const ends = [clientLink, endpointLink];
      // Client death: within the token lifetime, plus a generous margin. Orphans: the forwarder's
      // grace period is its own business; give it two deadlines.
      const deadline = cell.fault === 'orphan' ? 2 * DEADLINE_MS : lifetimeMs + CLEANUP_MARGIN_MS;
      const clean = await until(
        async () => {
          const present = await Promise.all(
            ends.map(async (e) => (await links(e.netns)).some((l) => l.ifname === e.ifname)),
          );
          return present.some(Boolean) ? undefined : Date.now();
        },
        deadline,
        20,
      );
      if (clean === undefined) fail(`the connection's interfaces still exist ${deadline} ms after the fault`);
      else {
        result.cleanupMs = clean - faultDoneAt;
        note(`interfaces gone after ${result.cleanupMs} ms`);
      }
      const st = await stream.stop();
      stream = undefined;
      result.stream = st;
      result.sent = st.sent;
    } else {
      if (cell.promise === 'restored') {
        const back = await until(async () => {
          const st = await stream!.stats();
          return st.lastReplyAt !== null &&
            st.lastReplyAt > faultDoneAt + 2 * STREAM_INTERVAL_MS &&
            st.now - st.lastReplyAt < 200
            ? st.lastReplyAt
            : undefined;
        }, DEADLINE_MS);
        if (back === undefined) fail(`traffic not restored within ${DEADLINE_MS} ms`);
        else note(`traffic back ${back - result.faultAt} ms after the fault`);
      }
      if (cell.restart) {
        const holder =
          cell.fault === 'forwarder'
            ? `unix://${node.forwarderSocket}`
            : cell.fault === 'nsmgr'
              ? `unix://${node.nsmgrSocket}`
              : undefined;
        if (holder) {
          const ok = await until(async () => {
            const conns = await monitoredConnections(holder);
            return conns.some((c) => c.path?.pathSegments[0]?.name === clientName) ? true : undefined;
          }, DEADLINE_MS);
          result.reconnected = ok === true;
          if (!ok) fail(`the restarted ${cell.fault} does not hold the connection within ${DEADLINE_MS} ms`);
          else note(`restarted ${cell.fault} holds the connection`);
        }
        if (cell.fault === 'registry') {
          const want = ['forwarder-node1', 'forwarder-node2', 'nse-a', 'nse-b'];
          const names = await until(async () => {
            const got = await registeredEndpoints(sb.node('node1'));
            return want.every((w) => got.includes(w)) ? got : undefined;
          }, DEADLINE_MS);
          result.registrationsBack = names !== undefined;
          if (!names) fail(`registrations not back within ${DEADLINE_MS} ms (want ${want.join(', ')})`);
          else note('registrations back');
        }
        // New connections work through the restarted daemon (endpoints and forwarders reconnected).
        const fresh = await until(
          async () => {
            const c = await request(s.sparePod.node, newConnection(`spare-${Date.now()}`, SERVICE), [
              kernelMechanism({ name: 'spare', inodeURL: `file:///var/run/netns/${s.sparePod.netns}` }),
            ]);
            await close(s.sparePod.node, c);
            return true;
          },
          DEADLINE_MS,
          500,
        );
        result.newConnections = fresh === true;
        if (!fresh)
          fail(`no new connection could be made within ${DEADLINE_MS} ms of the ${cell.fault} restart`);
        else note('a new connection works');
      }
      // Observe two token lifetimes (at least 3 s) after the fault: refreshes through the restarted
      // daemons happen in this window, and must not disturb the traffic.
      const observeUntil = result.faultAt + Math.min(Math.max(2 * lifetimeMs, 3_000), 15_000);
      if (Date.now() < observeUntil) await sleep(observeUntil - Date.now());
      await sleep(STREAM_INTERVAL_MS * 10 + 1_000); // every datagram still missing is lost by now
      const st = await stream.stats();
      result.stream = st;
      result.sent = st.sent;
      result.lost = st.lostSinceMark;
      result.longestGapMs = st.longestGapMs;
      // Outages: periods without replies in which datagrams were lost (not mere scheduling jitter).
      const after = st.gaps.filter((g) => (g.to ?? st.now) > result.faultAt && g.lost > 0);
      result.noTrafficMs = after.reduce((sum, g) => sum + g.ms, 0);
      const last = after.at(-1);
      result.restoreMs = !last ? 0 : last.to === null ? null : last.to - result.faultAt;
      note(
        `stream: sent ${st.sent}, lost ${st.lostSinceMark} since the fault (${st.lost} in all), outages after the fault ${JSON.stringify(after.map((g) => g.ms))} ms`,
      );
      if (cell.promise === 'uninterrupted' && st.lostSinceMark > 0) {
        fail(
          `${st.lostSinceMark} datagrams lost (promise: not one); outages ${JSON.stringify(after.map((g) => g.ms))} ms`,
        );
      }
      if (st.lastReplyAt === null || st.now - st.lastReplyAt > 500) {
        fail(
          `no traffic at the end of the observation (last reply ${st.lastReplyAt ? st.now - st.lastReplyAt : '-'} ms ago)`,
        );
      }

      // ---- the connection's state after recovery ----
      const now = await sandboxState(sb);
      const linksAfter = connectionLinks(s, now);
      const cl = linksAfter.client.find((l) => l.ifname === 'nsm-1');
      const el = linksAfter.endpoint[0];
      result.addressesAfter = {
        client: cl ? await interfaceAddresses(cl.netns, cl.ifname) : [],
        endpoint: el ? await interfaceAddresses(el.netns, el.ifname) : [],
      };
      result.endpointAfter = el ? podOf(s, el.netns) : '';
      result.addressesKept =
        JSON.stringify(result.addressesAfter) === JSON.stringify(result.addressesBefore) &&
        result.addressesBefore.client.length > 0;
      result.interfacesKept =
        !!cl &&
        !!el &&
        cl.ifindex === clientLink?.ifindex &&
        el.ifindex === endpointLink?.ifindex &&
        el.netns === endpointLink?.netns;
      if (cell.addressesKept && !result.addressesKept) {
        fail(
          `addresses changed: before ${JSON.stringify(result.addressesBefore)}, after ${JSON.stringify(result.addressesAfter)}`,
        );
      }
      if (cell.interfacesKept && !result.interfacesKept) {
        fail(
          `interfaces not kept: before client ifindex ${clientLink?.ifindex}, endpoint ${endpointLink?.ifname}#${endpointLink?.ifindex}; after client ${cl?.ifindex}, endpoint ${el?.ifname}#${el?.ifindex}`,
        );
      }
      if (cell.fault === 'endpoint' && result.endpointAfter === result.endpointBefore) {
        fail(`the connection still ends in the killed endpoint's pod (${result.endpointAfter})`);
      }
      const stray = [
        ...linksAfter.client.filter((l) => l !== cl),
        ...linksAfter.endpoint.filter((l) => l !== el),
        ...linksAfter.others,
      ].map((l) => `${podOf(s, l.netns)}: link ${l.ifname} ${l.kind} ${l.alias}`);
      if (!cl) stray.push('client pod: no nsm-1');
      if (!el) stray.push('endpoint pods: no interface');
      result.stray = stray;
      if (stray.length > 0) fail(`unexpected kernel state after recovery: ${stray.join('; ')}`);
      await stream.stop();
      stream = undefined;
    }

    // ---- close and check for leftovers ----
    if (nsc?.running) {
      await nsc.stop();
      note('client closed');
    }
    const leftovers = await until(
      async () => {
        const l = added(s.baseline, await sandboxState(sb));
        return l.length === 0 ? l : undefined;
      },
      cell.promise === 'cleaned-up' ? DEADLINE_MS : 10_000,
      100,
    );
    result.leaked = leftovers ?? added(s.baseline, await sandboxState(sb));
    if (result.leaked.length > 0) fail(`leaked kernel objects: ${result.leaked.join('; ')}`);
    else note('no kernel objects left');
  } catch (e) {
    fail(`scenario error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await stream?.stop().catch(() => undefined);
    if (result.failures.length > 0 && opts.keepLogsOnFailure !== false) {
      const dir = join(KEPT_LOGS_DIR, `${cell.id.replace(/[/@]/g, '_')}-${sb.id}`);
      try {
        mkdirSync(dir, { recursive: true });
        cpSync(join(sb.runDir, 'logs'), dir, { recursive: true });
        result.logs = dir;
      } catch {
        // no logs to keep
      }
    }
    await closeSandbox(sb);
  }
  return result;
}

export interface ChurnResult {
  sandbox: string;
  sequential: number;
  concurrent: number;
  failedRequests: string[];
  leaked: string[];
  /** Connections still held by the daemons' MonitorConnections, per daemon. */
  held: Record<string, number>;
  ms: number;
  logs?: string;
}

/**
 * Many request/close cycles straight to the nsmgrs (local and remote, alternating), then many at
 * once; afterwards no kernel object and no connection may be left anywhere.
 */
export async function runChurn(
  opts: {
    sequential?: number;
    concurrent?: number;
    env?: Record<string, string>;
    log?: (l: string) => void;
  } = {},
): Promise<ChurnResult> {
  const sequential = opts.sequential ?? 100;
  const concurrent = opts.concurrent ?? 30;
  const t0 = Date.now();
  const sb = await openSandbox(opts.env ?? {});
  const result: ChurnResult = {
    sandbox: sb.id,
    sequential,
    concurrent,
    failedRequests: [],
    leaked: [],
    held: {},
    ms: 0,
  };
  try {
    const node1 = sb.node('node1');
    const node2 = sb.node('node2');
    const nsePods: Pod[] = [];
    for (const [name, cidr] of [
      ['nse-a', '172.16.1.0/24'],
      ['nse-b', '172.16.2.0/24'],
    ]) {
      const pod = await sb.addPod(node2, name);
      nsePods.push(pod);
      await sb.startEndpoint(pod, { NSM_SERVICE_NAMES: SERVICE, NSM_CIDR_PREFIX: cidr });
    }
    const pods = { local: await sb.addPod(node2, 'churn-l'), remote: await sb.addPod(node1, 'churn-r') };
    const baseline = await sandboxState(sb);
    const cycle = async (i: number, ifname: string) => {
      const pod = i % 2 === 0 ? pods.local : pods.remote;
      try {
        const c = await request(pod.node, newConnection(`churn-${i}`, SERVICE), [
          kernelMechanism({ name: ifname, inodeURL: `file:///var/run/netns/${pod.netns}` }),
        ]);
        await close(pod.node, c);
      } catch (e) {
        result.failedRequests.push(`churn-${i}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    for (let i = 0; i < sequential; i++) await cycle(i, 'seq');
    opts.log?.(`  [churn] ${sequential} sequential cycles in ${Date.now() - t0} ms`);
    await Promise.all(Array.from({ length: concurrent }, (_, j) => cycle(sequential + j, `par${j}`)));
    opts.log?.(`  [churn] ${concurrent} concurrent cycles done at ${Date.now() - t0} ms`);
    const left = await until(
      async () => {
        const l = added(baseline, await sandboxState(sb));
        return l.length === 0 ? l : undefined;
      },
      10_000,
      100,
    );
    result.leaked = left ?? added(baseline, await sandboxState(sb));
    const holders: Record<string, string> = {
      'nsmgr-node1': `unix://${node1.nsmgrSocket}`,
      'nsmgr-node2': `unix://${node2.nsmgrSocket}`,
      'forwarder-node1': `unix://${node1.forwarderSocket}`,
      'forwarder-node2': `unix://${node2.forwarderSocket}`,
      ...Object.fromEntries(nsePods.map((p) => [p.name, endpointSocket(sb, p)])),
    };
    for (const [name, url] of Object.entries(holders)) {
      const n = await until(
        async () => {
          const conns = await monitoredConnections(url);
          return conns.length === 0 ? 0 : undefined;
        },
        10_000,
        200,
      );
      result.held[name] =
        n ??
        (await monitoredConnections(url).then(
          (c) => c.length,
          () => -1,
        ));
    }
  } finally {
    result.ms = Date.now() - t0;
    const bad =
      result.failedRequests.length > 0 ||
      result.leaked.length > 0 ||
      Object.values(result.held).some((n) => n !== 0);
    if (bad) {
      const dir = join(KEPT_LOGS_DIR, `churn-${sb.id}`);
      try {
        mkdirSync(dir, { recursive: true });
        cpSync(join(sb.runDir, 'logs'), dir, { recursive: true });
        result.logs = dir;
      } catch {
        // no logs to keep
      }
    }
    await closeSandbox(sb);
  }
  return result;
}
