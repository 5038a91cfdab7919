// Joining two interfaces of one namespace, for a passthrough CNF: the interface its client's
// connection arrived on (`client`) and the one its own connection onward left on (`endpoint`).
//
//   [client] ──▶ client-if ┐ [CNF namespace] ┌ endpoint-if ──▶ [next hop]
//                          └──── joined ─────┘
//
// IP payload: the kernel routes between them. The forwarders gave the CNF's interfaces the
// connection's addresses (the endpoint-side address on client-if, the client-side one on
// endpoint-if), which would make the CNF itself answer for both ends; so their host routes in the
// `local` table are replaced by unicast routes out of the other interface (the address stays
// visible, ARP keeps a source), ip_forward is switched on in this namespace only, proxy ARP lets
// each side resolve the far side through the CNF, and accept_local lets packets whose source is one
// of those addresses in (the kernel would drop them as martians). `route replace` makes it idempotent: a refresh
// applies it again at no harm.
// ETHERNET payload: a kernel L2 cross-connect, either a tc ingress `mirred` redirect each way
// (`mirred`, the default: 4.76 against 4.21 Gbit/s for the bridge in bench/'s chain part, median of
// 3 iperf3 rounds; no bridge learning or forwarding database on the way) or a bridge of the two.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import type { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import type { IpRunner } from './iproute2.js';
import { parseCidr } from './validate.js';

export type L2Join = 'bridge' | 'mirred';

export interface JoinSpec {
  payload: string;
  /** The interface the client's connection arrived on. */
  client: string;
  /** The interface of the connection onward. */
  endpoint: string;
  ipContext?: IPContext;
  l2: L2Join;
}

export interface JoinPlan {
  /** `ip -batch` lines. */
  ip: string[];
  /** `tc -batch` lines. */
  tc: string[];
  /**
   * `ip -batch` lines removing the kernel's local routes of the addresses: a flush, which succeeds
   * when they are gone already (a join applied again), so they go in one batch with `ip`.
   */
  deleteLocal: string[];
  /** /proc/sys paths (relative to /proc/sys) and the value to write. */
  sysctls: [string, string][];
}

/** The bridge of a connection: named after the client interface (unique in the namespace). */
export function bridgeName(spec: Pick<JoinSpec, 'client'>): string {
  return `br-${spec.client}`.slice(0, 15);
}

function hostRoute(cidr: string, field: string): { prefix: string; v6: boolean } {
  const c = parseCidr(cidr, field);
  const v6 = c.ip.includes(':');
  return { prefix: `${c.ip}/${v6 ? 128 : 32}`, v6 };
}

/** What joining needs, without doing it (pure, tested without root). */
export function planJoin(spec: JoinSpec): JoinPlan {
  if (spec.client === spec.endpoint) throw new Error(`cannot join interface ${spec.client} to itself`);
  if (spec.payload === 'IP') {
    const ip: string[] = [];
    const deleteLocal: string[] = [];
    const families = new Set<boolean>();
    const ctx = spec.ipContext;
    // dst addresses sit on client-if (its endpoint side) but live beyond endpoint-if, and vice versa.
    for (const [i, a] of (ctx?.dstIpAddrs ?? []).entries()) {
      const r = hostRoute(a, `dst_ip_addrs[${i}]`);
      families.add(r.v6);
      deleteLocal.push(`route flush table local exact ${r.prefix} dev ${spec.client} type local`);
      ip.push(`route replace table local unicast ${r.prefix} dev ${spec.endpoint}`);
    }
    for (const [i, a] of (ctx?.srcIpAddrs ?? []).entries()) {
      const r = hostRoute(a, `src_ip_addrs[${i}]`);
      families.add(r.v6);
      deleteLocal.push(`route flush table local exact ${r.prefix} dev ${spec.endpoint} type local`);
      ip.push(`route replace table local unicast ${r.prefix} dev ${spec.client}`);
    }
    const sysctls: [string, string][] = [];
    if (families.has(false) || families.size === 0) {
      sysctls.push(['net/ipv4/ip_forward', '1']);
      for (const dev of [spec.client, spec.endpoint]) {
        sysctls.push([`net/ipv4/conf/${dev}/proxy_arp`, '1']);
        // Each side's source is an address of this namespace (on the other interface): not martian here.
        sysctls.push([`net/ipv4/conf/${dev}/accept_local`, '1']);
        // Proxy ARP answers after a random wait of up to proxy_delay (0.8 s by default) per hop: a
        // 4-hop chain took seconds for its first packet, longer than the client's liveness check.
        sysctls.push([`net/ipv4/neigh/${dev}/proxy_delay`, '0']);
      }
    }
    if (families.has(true)) {
      sysctls.push(['net/ipv6/conf/all/forwarding', '1']);
      for (const dev of [spec.client, spec.endpoint]) sysctls.push([`net/ipv6/conf/${dev}/proxy_ndp`, '1']);
    }
    return { ip, deleteLocal, tc: [], sysctls };
  }
  if (spec.l2 === 'bridge') {
    const br = bridgeName(spec);
    return {
      ip: [
        `link set ${spec.client} master ${br}`,
        `link set ${spec.endpoint} master ${br}`,
        `link set ${br} up`,
      ],
      deleteLocal: [],
      tc: [],
      sysctls: [],
    };
  }
  // u32 matching everything rather than matchall: cls_matchall is not built into every kernel (this
  // machine's lacks it), cls_u32 is. The joiner deletes an earlier ingress qdisc first (idempotence).
  const redirect = (from: string, to: string) => [
    `qdisc add dev ${from} handle ffff: ingress`,
    `filter add dev ${from} parent ffff: prio 1 protocol all u32 match u32 0 0 action mirred egress redirect dev ${to}`,
  ];
  return {
    ip: [],
    deleteLocal: [],
    tc: [...redirect(spec.client, spec.endpoint), ...redirect(spec.endpoint, spec.client)],
    sysctls: [],
  };
}

export interface Joiner {
  /** Joins the two interfaces (both must exist); applying it again changes nothing. */
  join(spec: JoinSpec): Promise<void>;
  /** Undoes what only the join made (the bridge); interfaces and routes go with the connections. */
  unjoin(spec: JoinSpec): Promise<void>;
  /**
   * Whether the client interface is there and configured (the forwarder makes it only after the
   * CNF answered, then gives it the connection's addresses).
   */
  ready(spec: JoinSpec): Promise<boolean>;
}

/** A Joiner for this process's own namespace (the CNF's). */
export function newJoiner(runner: IpRunner, tcBinary = 'tc'): Joiner {
  const exec = promisify(execFile);
  return {
    async join(spec) {
      const plan = planJoin(spec);
      if (spec.payload !== 'IP' && spec.l2 === 'bridge') {
        const br = bridgeName(spec);
        const exists = await runner.json<unknown[]>(null, ['link', 'show', 'dev', br]).catch(() => []);
        if (exists.length === 0) await runner.batch(null, [`link add ${br} type bridge`]);
      }
      // Synchronous: a write to /proc/sys is a few microseconds, while each awaited writeFile is three
      // thread-pool round trips (nine sysctls: ~3 ms against ~0.2 ms, on every CNF of a chain's setup).
      for (const [path, value] of plan.sysctls) writeFileSync(`/proc/sys/${path}`, value);
      // The kernel's own host routes for the two addresses go first (replace does not take a route of
      // another type); flushed, not deleted, so that the one batch also succeeds when an earlier join
      // removed them, and runs in the namespace's long-lived ip (a forced batch ran one-shot, ~3 ms).
      const ipLines = [...plan.deleteLocal, ...plan.ip];
      if (ipLines.length > 0) await runner.batch(null, ipLines);
      if (plan.tc.length > 0) {
        for (const dev of [spec.client, spec.endpoint])
          await exec(tcBinary, ['qdisc', 'del', 'dev', dev, 'ingress']).catch(() => undefined);
        for (const line of plan.tc) await exec(tcBinary, line.split(' '));
      }
    },
    async unjoin(spec) {
      if (spec.payload === 'IP' || spec.l2 !== 'bridge') return;
      await runner.batch(null, [`link del ${bridgeName(spec)}`], { force: true }).catch(() => undefined);
    },
    async ready(spec) {
      // The forwarder creates the client interface, then gives it its addresses: wait for both, or
      // the kernel would add the local routes back after we replaced them. getifaddrs, in process:
      // this is polled, and a spawned `ip` per poll costs more than the wait on a busy node.
      const addrs = networkInterfaces()[spec.client];
      if (addrs === undefined) return existsSync(`/sys/class/net/${spec.client}`) && spec.payload !== 'IP';
      if (spec.payload !== 'IP') return true;
      const have = new Set(addrs.map((a) => a.address));
      return (spec.ipContext?.dstIpAddrs ?? []).every((a) => have.has(a.split('/')[0]));
    },
  };
}
