// `nsmctl diagnose [ID]`: runs every check (checks.ts) on a connection and prints a one-line
// verdict naming the failing hop and why, then the evidence. The verdict is the failing check
// whose cause comes first in CAUSES (the root cause before its symptoms), then the earliest on the
// path. Without an ID every connection is diagnosed and summarised.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IpRunner } from '../sdk/kernel/index.js';
import { NETNS_RUN_DIR } from '../sdk/kernel/iproute2.js';
import { CAUSES, type Cause, type Check, controlChecks, hopKind, kernelChecks } from './checks.js';
import type { Kernel } from './describe.js';
import { type Hop, hopsOf, type Snapshot } from './inspect.js';
import { type KernelEnd, readEnd } from './kernel-state.js';
import type { MeshConnection } from './mesh.js';
import type { Prober } from './probe.js';

/** How many namespaces are searched for the one holding a node's underlay address. */
const UNDERLAY_SEARCH_MAX = 64;

export interface Diagnosis {
  id: string;
  ok: boolean;
  /** The failing hop and why (the verdict), when not ok. */
  hop?: string;
  cause?: Cause;
  verdict: string;
  checks: Check[];
}

export interface DiagnoseDeps extends Kernel {
  probe: Prober;
}

const bare = (cidr: string) => cidr.split('/')[0];

/** The named namespace holding `ip`, searched among those whose names look most like `near`. */
async function netnsWithAddress(runner: IpRunner, ip: string, near: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = readdirSync(NETNS_RUN_DIR);
  } catch {
    return undefined;
  }
  const common = (a: string) => {
    let i = 0;
    while (i < a.length && a[i] === near[i]) i++;
    return i;
  };
  const candidates = names.sort((a, b) => common(b) - common(a)).slice(0, UNDERLAY_SEARCH_MAX);
  for (let i = 0; i < candidates.length; i += 8) {
    const batch = candidates.slice(i, i + 8);
    const found = await Promise.all(
      batch.map(async (n) => {
        const path = join(NETNS_RUN_DIR, n);
        const addrs = await runner
          .json<{ addr_info?: { local?: string }[] }[]>({ path }, ['-4', 'addr', 'show'])
          .catch(() => []);
        return addrs.some((a) => a.addr_info?.some((x) => x.local === ip)) ? path : undefined;
      }),
    );
    const hit = found.find((p) => p !== undefined);
    if (hit) return hit;
  }
  return undefined;
}

async function underlayChecks(deps: DiagnoseDeps, hops: Hop[], clientEnd: KernelEnd): Promise<Check[]> {
  const vx = hops.map((h) => h.held?.mechanism).find((m) => m?.type === 'VXLAN');
  if (!vx) return [];
  const src = vx.parameters.src_ip;
  const dst = vx.parameters.dst_ip;
  const fwds = hops.filter((_, i) => hopKind(i, hops.length) === 'forwarder').map((h) => h.name);
  const hop = `underlay ${fwds.join(' -> ')}`;
  const node = await netnsWithAddress(deps.runner, src, clientEnd.netnsName ?? '');
  if (!node) {
    return [
      { hop, what: `${src} -> ${dst}`, ok: true, skipped: true, detail: `no namespace here holds ${src}` },
    ];
  }
  const r = await deps.probe(node, dst);
  return [
    {
      hop,
      what: `${src} -> ${dst} (from ${node})`,
      ok: r.ok,
      cause: r.ok ? undefined : 'underlay-down',
      detail: r.detail,
    },
  ];
}

export async function diagnose(snap: Snapshot, m: MeshConnection, deps: DiagnoseDeps): Promise<Diagnosis> {
  const hops = hopsOf(snap, m);
  const last = hops[hops.length - 1];
  const ctx = (hops[1]?.held ?? m.connection).context?.ipContext;
  const vni = hops.map((h) => h.held?.mechanism).find((x) => x?.type === 'VXLAN')?.parameters.vni;
  const clientMech = hops[1]?.held?.mechanism ?? m.connection.mechanism;
  const [clientEnd, endpointEnd] = await Promise.all([
    readEnd(deps.runner, deps.resolver, clientMech),
    last?.held ? readEnd(deps.runner, deps.resolver, last.held.mechanism) : undefined,
  ]);
  const checks = controlChecks(snap, hops);
  checks.push(
    ...kernelChecks(
      hops[0]?.name ?? '?',
      'client',
      clientEnd,
      ctx?.srcIpAddrs ?? [],
      (ctx?.srcRoutes ?? []).map((r) => r.prefix),
      vni,
    ),
  );
  if (endpointEnd) {
    checks.push(
      ...kernelChecks(
        last.name,
        'endpoint',
        endpointEnd,
        ctx?.dstIpAddrs ?? [],
        (ctx?.dstRoutes ?? []).map((r) => r.prefix),
        vni,
      ),
    );
  }
  checks.push(...(await underlayChecks(deps, hops, clientEnd)));
  const to = ctx?.dstIpAddrs[0];
  if (clientEnd.netns && !clientEnd.error && to) {
    const r = await deps.probe(clientEnd.netns, bare(to));
    checks.push({
      hop: hops[0].name,
      what: `traffic ${bare(ctx?.srcIpAddrs[0] ?? '?')} -> ${bare(to)} through ${clientEnd.ifname}`,
      ok: r.ok,
      cause: r.ok ? undefined : 'no-traffic',
      detail: r.detail,
    });
  }
  return verdict(m.id, hops, checks);
}

export function verdict(id: string, hops: Hop[], checks: Check[]): Diagnosis {
  const order = (c: Check) =>
    CAUSES.indexOf(c.cause as Cause) * 100 +
    Math.max(
      0,
      hops.findIndex((h) => h.name === c.hop),
    );
  const failing = checks.filter((c) => !c.ok).sort((a, b) => order(a) - order(b));
  const first = failing[0];
  if (!first) {
    const skipped = checks.filter((c) => c.skipped).length;
    return {
      id,
      ok: true,
      verdict: `${id}: OK (${hops.length} hops, ${checks.length - skipped} checks passed${skipped ? `, ${skipped} not checked` : ''})`,
      checks,
    };
  }
  const i = hops.findIndex((h) => h.name === first.hop);
  const role = i >= 0 ? hopKind(i, hops.length) : first.hop.split(' ')[0];
  return {
    id,
    ok: false,
    hop: first.hop,
    cause: first.cause,
    verdict: `${id}: FAIL at ${first.hop}${role !== first.hop ? ` (${role})` : ''}: ${first.cause}: ${first.what}: ${first.detail}`,
    checks,
  };
}

export function render(d: Diagnosis): string {
  const mark = (c: Check) => (c.skipped ? '-' : c.ok ? '✓' : '✗');
  const lines = d.checks.map((c) => `  ${mark(c)} ${c.hop}: ${c.what}: ${c.detail}`);
  return `${d.verdict}\n${lines.join('\n')}\n`;
}

/** Diagnoses every connection; one line each, then a count (and the evidence of the failing ones). */
export async function diagnoseAll(
  snap: Snapshot,
  deps: DiagnoseDeps,
): Promise<{ text: string; all: Diagnosis[] }> {
  const all = await Promise.all(snap.connections.map((m) => diagnose(snap, m, deps)));
  const bad = all.filter((d) => !d.ok);
  const dead = snap.nsmgrs.filter((v) => v.error);
  const lines = [
    ...dead.map((v) => `nsmgr at ${v.url}: FAIL: unreachable: ${v.error?.message}`),
    ...(snap.registryError ? [`registry: FAIL: registry-unreachable: ${snap.registryError.message}`] : []),
    ...all.map((d) => d.verdict),
    `${all.length} connection${all.length === 1 ? '' : 's'}: ${all.length - bad.length} OK, ${bad.length} failing`,
  ];
  const evidence = bad.map((d) => `\n${render(d)}`).join('');
  return { text: `${lines.join('\n')}\n${evidence}`, all };
}
