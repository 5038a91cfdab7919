// The diagnose matrix (issue 13): each fault of the lifecycle matrix injected into a fresh sandbox
// with one connection, then `nsmctl diagnose` asked (in-process, as a user runs it, with -o json)
// until its verdict names a hop and cause, which must be the injected ones. Before the fault the
// same command must say OK, so a verdict cannot come from the set-up.
//
// The client runs without its liveness check: with it, the client heals a broken data path within
// a few hundred ms (a re-request recreates the interface), and there would be no fault left to
// find. The daemons keep their default lifetimes (10 min), so nothing expires during a cell.

import type { Diagnosis } from '../../nsmctl/diagnose.js';
import { run } from '../../nsmctl/main.js';
import type { Daemon, Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { closeSandbox, keepLogs, openSandbox, sleep } from './common.js';

export const SERVICE = 'diag';
/** How long a fault may take to show (a killed daemon's socket refusing, a netns being released). */
export const ATTRIBUTION_DEADLINE_MS = 25_000;

export interface World {
  sb: Sandbox;
  client: Pod;
  nsc: Daemon;
  nse: Daemon;
  nsePod: Pod;
  connectionId: string;
}

export interface DiagCell {
  id: string;
  kind: 'local' | 'remote';
  fault: string;
  /** The hop diagnose must name, given the world (e.g. the client pod's name). */
  hop: (w: World) => string;
  cause: string;
  inject: (w: World) => Promise<void>;
  /** Extra environment for the cell's daemons. */
  env?: Record<string, string>;
  /** Undoes what would stop the sandbox from closing (a stopped process). */
  undo?: (w: World) => Promise<void>;
}

const inPod = (w: World, args: string[]) => sh('ip', ['-n', w.client.netns, ...args]);

/**
 * The registry lease of the registration-expired cell. Removing an entry is no fault (the endpoint
 * watches its entry and registers again at once), so that cell cuts the node off the registry and
 * lets the leases run out; they must outlive a refresh under load before the cut.
 */
const REGISTRATION_EXPIRY = '8s';

export function diagnoseCells(): DiagCell[] {
  const fwd = (n: string) => `forwarder-${n}`;
  const nsmgr = (n: string) => `nsmgr-${n}`;
  return [
    {
      id: 'local/forwarder-killed',
      kind: 'local',
      fault: 'forwarder killed (kill -9)',
      hop: () => fwd('node2'),
      cause: 'unreachable',
      inject: async (w) => w.sb.node('node2').forwarder?.kill(),
    },
    {
      id: 'remote/forwarder-killed@node1',
      kind: 'remote',
      fault: 'forwarder killed (kill -9)',
      hop: () => fwd('node1'),
      cause: 'unreachable',
      inject: async (w) => w.sb.node('node1').forwarder?.kill(),
    },
    {
      id: 'local/nsmgr-killed',
      kind: 'local',
      fault: 'nsmgr killed (kill -9)',
      hop: () => nsmgr('node2'),
      cause: 'unreachable',
      inject: async (w) => w.sb.node('node2').nsmgr?.kill(),
    },
    {
      id: 'remote/nsmgr-killed@node2',
      kind: 'remote',
      fault: 'nsmgr killed (kill -9)',
      hop: () => nsmgr('node2'),
      cause: 'unreachable',
      inject: async (w) => w.sb.node('node2').nsmgr?.kill(),
    },
    {
      id: 'local/registry-killed',
      kind: 'local',
      fault: 'registry killed (kill -9)',
      hop: () => 'registry',
      cause: 'registry-unreachable',
      inject: async (w) => w.sb.registry?.kill(),
    },
    {
      id: 'local/endpoint-killed',
      kind: 'local',
      fault: 'endpoint killed (kill -9)',
      hop: (w) => w.nsePod.name,
      cause: 'unreachable',
      inject: async (w) => w.nse.kill(),
    },
    {
      id: 'local/endpoint-stopped',
      kind: 'local',
      fault: 'endpoint stopped (SIGSTOP)',
      hop: (w) => w.nsePod.name,
      cause: 'not-answering',
      inject: async (w) => w.nse.kill('SIGSTOP'),
      undo: async (w) => w.nse.kill('SIGCONT'),
    },
    {
      id: 'remote/interface-deleted',
      kind: 'remote',
      fault: "client's interface deleted",
      hop: (w) => w.client.name,
      cause: 'interface-missing',
      inject: async (w) => void (await inPod(w, ['link', 'del', 'nsm-1'])),
    },
    {
      id: 'local/address-removed',
      kind: 'local',
      fault: "client's address removed",
      hop: (w) => w.client.name,
      cause: 'address-missing',
      inject: async (w) => {
        const out = await inPod(w, ['-j', '-4', 'addr', 'show', 'dev', 'nsm-1']);
        const a = (JSON.parse(out) as { addr_info: { local: string; prefixlen: number }[] }[])[0]
          .addr_info[0];
        await inPod(w, ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', 'nsm-1']);
      },
    },
    {
      id: 'remote/link-down',
      kind: 'remote',
      fault: "client's interface set down",
      hop: (w) => w.client.name,
      cause: 'link-down',
      inject: async (w) => void (await inPod(w, ['link', 'set', 'nsm-1', 'down'])),
    },
    {
      id: 'remote/underlay-down@node2',
      kind: 'remote',
      fault: "endpoint node's underlay (eth0) down",
      hop: () => `underlay ${fwd('node1')} -> ${fwd('node2')}`,
      cause: 'underlay-down',
      inject: async (w) =>
        void (await sh('ip', ['-n', w.sb.node('node2').netns, 'link', 'set', 'eth0', 'down'])),
    },
    {
      id: 'local/client-namespace-deleted',
      kind: 'local',
      fault: 'client pod deleted (nsc killed, namespace deleted)',
      hop: (w) => w.client.name,
      cause: 'namespace-gone',
      inject: async (w) => {
        w.nsc.kill();
        await w.nsc.exited();
        await sh('ip', ['netns', 'delete', w.client.netns]);
      },
    },
    {
      id: 'local/registration-expired',
      kind: 'local',
      fault: "node2 cut from the registry: its forwarder's and endpoint's registrations expire",
      // Both lapse; the verdict names the first on the path, and says its nsmgr lost the registry.
      hop: () => fwd('node2'),
      cause: 'not-registered',
      env: { NSM_EXPIRE_PERIOD: REGISTRATION_EXPIRY },
      inject: async (w) => {
        const registryIP = w.sb.node('node1').ip;
        await sh('ip', ['-n', w.sb.node('node2').netns, 'route', 'add', 'blackhole', `${registryIP}/32`]);
      },
    },
  ];
}

export async function buildWorld(kind: 'local' | 'remote', env: Record<string, string> = {}): Promise<World> {
  const sb = await openSandbox(env);
  try {
    const node2 = sb.node('node2');
    const nsePod = await sb.addPod(node2, 'nse-1');
    const nse = await sb.startEndpoint(nsePod, {
      NSM_SERVICE_NAMES: SERVICE,
      NSM_CIDR_PREFIX: '172.16.1.0/24',
    });
    const client = await sb.addPod(sb.node(kind === 'local' ? 'node2' : 'node1'), 'nsc');
    const { daemon, connections } = await sb.startClient(client, `kernel://${SERVICE}/nsm-1`, {
      NSM_LIVENESS_CHECK_ENABLED: 'false',
    });
    return { sb, client, nsc: daemon, nse, nsePod, connectionId: connections[0].id };
  } catch (e) {
    await closeSandbox(sb);
    throw e;
  }
}

/** `nsmctl diagnose ID -o json` against every nsmgr of the sandbox. */
export async function diagnoseOnce(w: World): Promise<{ code: number; d?: Diagnosis; err: string }> {
  let out = '';
  let err = '';
  const nsmgrs = w.sb.nodes.map((n) => `unix://${n.nsmgrSocket}`).join(',');
  const code = await run(
    ['--nsmgr', nsmgrs, '--timeout', '1500', 'diagnose', w.connectionId, '-o', 'json'],
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
  );
  return { code, d: out ? (JSON.parse(out) as Diagnosis) : undefined, err };
}

export interface DiagResult {
  cell: DiagCell;
  sandbox: string;
  before?: string;
  /** Every distinct verdict seen after the fault, in order, with when it was first seen. */
  seen: { atMs: number; verdict: string; hop?: string; cause?: string; code: number }[];
  /** The verdict that named a hop (or the last one seen). */
  final?: { hop?: string; cause?: string; verdict: string; code: number; atMs: number };
  expected: { hop: string; cause: string };
  error?: string;
  /** Where the sandbox's logs were copied, when the verdict was wrong. */
  keptLogs?: string;
}

export async function runDiagCell(cell: DiagCell): Promise<DiagResult> {
  const r: DiagResult = { cell, sandbox: '', seen: [], expected: { hop: '', cause: cell.cause } };
  let w: World | undefined;
  try {
    w = await buildWorld(cell.kind, cell.env);
    r.sandbox = w.sb.id;
    r.expected.hop = cell.hop(w);
    const before = await diagnoseOnce(w);
    r.before = before.d?.verdict ?? before.err;
    if (!before.d?.ok) return { ...r, error: `not OK before the fault: ${r.before}` };
    await cell.inject(w);
    const t0 = Date.now();
    for (;;) {
      const now = await diagnoseOnce(w);
      const v = {
        atMs: Date.now() - t0,
        verdict: now.d?.verdict ?? now.err.trim(),
        hop: now.d?.hop,
        cause: now.d?.cause,
        code: now.code,
      };
      if (r.seen.at(-1)?.verdict.replace(/\d+ ms/g, '') !== v.verdict.replace(/\d+ ms/g, '')) r.seen.push(v);
      r.final = v;
      if (v.hop === r.expected.hop && v.cause === r.expected.cause) break;
      if (Date.now() - t0 > ATTRIBUTION_DEADLINE_MS) break;
      await sleep(250);
    }
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
  } finally {
    if (w) {
      const right = r.final?.hop === r.expected.hop && r.final?.cause === r.expected.cause;
      if (!right) r.keptLogs = keepLogs(w.sb, `diagnose-${cell.id.replace(/[/@]/g, '_')}`);
      await cell.undo?.(w).catch(() => undefined);
      await closeSandbox(w.sb);
    }
  }
  return r;
}

export function attributionTable(results: DiagResult[]): string {
  const rows = results.map((r) => {
    const got = r.final ? `${r.final.hop ?? '(none)'} / ${r.final.cause ?? 'OK'}` : `error: ${r.error}`;
    // The first verdict after the fault: right at once, or only once the mesh settled.
    const first = r.seen[0] ? `${r.seen[0].hop ?? '(none)'} / ${r.seen[0].cause ?? 'OK'}` : '-';
    const right = r.final?.hop === r.expected.hop && r.final?.cause === r.expected.cause;
    return `| ${r.cell.id} | ${r.cell.fault} | ${r.expected.hop} / ${r.expected.cause} | ${first} | ${got} | ${right ? '✅' : '❌'} | ${r.final ? `${r.final.atMs} ms` : '-'} | ${r.final?.code ?? '-'} |`;
  });
  const ok = results.filter(
    (r) => r.final?.hop === r.expected.hop && r.final?.cause === r.expected.cause,
  ).length;
  return [
    '| cell | fault | expected hop / cause | first verdict | final verdict | | after | exit |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `attribution: ${ok}/${results.length}`,
    '',
    ...results.map((r) => `${r.cell.id}: ${r.final?.verdict ?? r.error}`),
  ].join('\n');
}
