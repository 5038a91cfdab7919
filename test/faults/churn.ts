import type { Pod } from '../../sdk/tools/sandbox/sandbox.js';
import { close, kernelMechanism, newConnection, request } from '../e2e/helpers.js';
import {
  closeSandbox,
  endpointSocket,
  keepLogs,
  monitoredConnections,
  openSandbox,
  SERVICE,
  until,
} from './common.js';
import { leftoversAfter, sandboxState } from './kernel.js';
import { TIMING } from './timing.js';

/**
 * Cycles one after another, alternating local and remote, on the same interface name: each close
 * must have removed everything before the next request makes it again (a leak or a slow delete
 * shows within a few cycles; the report runs 100).
 */
export const CHURN_SEQUENTIAL = 20;
/** Cycles at once, each with its own interface name: races between connections (VNIs, names, IPAM). */
export const CHURN_CONCURRENT = 30;

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
  const sequential = opts.sequential ?? CHURN_SEQUENTIAL;
  const concurrent = opts.concurrent ?? CHURN_CONCURRENT;
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
    result.leaked = await leftoversAfter(sb, baseline, TIMING.cleanupMs);
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
        TIMING.cleanupMs,
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
    if (bad) result.logs = keepLogs(sb, 'churn');
    await closeSandbox(sb);
  }
  return result;
}
