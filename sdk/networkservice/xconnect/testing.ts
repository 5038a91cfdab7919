// Shared set-up of the xconnect tests (not exported from index.ts): a chain around xconnect with the
// real KERNEL and VXLAN mechanisms, a recording iproute2 runner and a fake netns resolver, so the
// tests need neither root nor a kernel.
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { invalidArgument, notFound } from '../../errors/index.js';
import {
  type Dataplane,
  type NetnsResolver,
  newDataplane,
  newRecordingIpRunner,
  type RecordingIpRunner,
} from '../../kernel/index.js';
import { recorder } from '../../testing/checks.js';
import * as clienturl from '../clienturl/index.js';
import * as point2pointipam from '../ipam/point2pointipam/index.js';
import { mechanism } from '../mechanisms/common.js';
import * as kernel from '../mechanisms/kernel/index.js';
import * as vxlan from '../mechanisms/vxlan/index.js';
import * as metadata from '../metadata/index.js';
import * as xconnect from './index.js';
import type { Reconciler } from './reconcile.js';

export const TUNNEL_IP = '10.0.0.1';
export const PEER_TUNNEL_IP = '10.0.0.2';
export const PEER_VNI = 4242;
export const NSE_URL = 'unix:///var/lib/nsm/nse.sock';
export const PEER_URL = `tcp://${PEER_TUNNEL_IP}:5001`;
export const OWNER = xconnect.ownerTag('fwd-1', TUNNEL_IP);

export interface FakeNetns {
  readonly path: string;
  readonly url: string;
}

export const fakeNetns = (name: string): FakeNetns => ({
  path: `/var/run/netns/${name}`,
  url: `file:///var/run/netns/${name}`,
});

export const clientNs = fakeNetns('client');
export const nseNs = fakeNetns('nse');

/** Knows the given namespaces; anything else under /var/run/netns does not exist, the rest is refused. */
export function fakeResolver(known: FakeNetns[] = [clientNs, nseNs]): NetnsResolver & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async resolve(url) {
      calls.push(url);
      const hit = known.find((n) => n.url === url);
      if (hit) return { path: hit.path, inode: `inode://4/${known.indexOf(hit) + 1}` };
      if (url.startsWith('file:///var/run/netns/'))
        throw notFound(`network namespace ${url.slice(7)} does not exist`);
      throw invalidArgument(`invalid netns inodeURL ${JSON.stringify(url)}`);
    },
    async list() {
      return [{ path: '/proc/self/ns/net', own: true }, ...known.map((n) => ({ path: n.path, own: false }))];
    },
  };
}

/**
 * The next hop behind connect: a local endpoint (point2pointipam, then a KERNEL answer with its
 * namespace and interface name) or a remote forwarder (answers VXLAN with its address and a VNI).
 */
export function nextHop(endpointName = () => 'nse-if'): NetworkServiceElement {
  const ipam = point2pointipam.newServer(['172.16.1.100/31']);
  const answer: NetworkServiceElement = {
    async request(ctx, req) {
      const pref = req.mechanismPreferences[0];
      const conn = req.connection!;
      conn.mechanism =
        pref?.type === 'KERNEL'
          ? mechanism('LOCAL', 'KERNEL', { name: endpointName(), inodeURL: nseNs.url })
          : mechanism('REMOTE', 'VXLAN', {
              ...pref?.parameters,
              dst_ip: PEER_TUNNEL_IP,
              dst_port: '4789',
              vni: conn.mechanism?.parameters.vni || String(PEER_VNI),
            });
      return next.server(ctx).request(ctx, req);
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
  return newNetworkServiceChain(ipam, answer);
}

export const refusingHop: NetworkServiceElement = {
  async request() {
    throw new Error('next hop refused');
  },
  close: async () => {},
};

export interface Setup {
  runner: RecordingIpRunner;
  dataplane: Dataplane;
  vni: vxlan.VniAllocator;
  resolver: ReturnType<typeof fakeResolver>;
  downstream: ReturnType<typeof recorder>;
  chain: NetworkServiceElement;
}

export interface SetupOptions {
  /** The element behind connect (default: `nextHop()`). */
  hop?: NetworkServiceElement;
  reconciler?: Reconciler;
  vni?: vxlan.VniAllocator;
  runner?: RecordingIpRunner;
}

/** metadata → xconnect server → (connect's client side:) clienturl → xconnect client → recorder → hop. */
export function setup(url: string, opts: SetupOptions = {}): Setup {
  const runner = opts.runner ?? newRecordingIpRunner();
  const dataplane = newDataplane(runner);
  const vni = opts.vni ?? new vxlan.VniAllocator();
  const resolver = fakeResolver();
  const downstream = recorder();
  const mechanisms = [
    kernel.newForwarderMechanism({ resolver, vethMtu: 1500 }),
    vxlan.newForwarderMechanism({ tunnelIP: TUNNEL_IP, port: 4789, mtu: 1450, vni }),
  ];
  const chain = newNetworkServiceChain(
    metadata.newServer(),
    xconnect.newServer({ dataplane, mechanisms, owner: OWNER, reconciler: opts.reconciler }),
    clienturl.newClient(url),
    xconnect.newClient({ mechanisms }),
    downstream,
    opts.hop ?? nextHop(),
  );
  return { runner, dataplane, vni, resolver, downstream, chain };
}

/** "netns-name: command" for every recorded batch line, with namespace paths shortened to their label. */
export function lines(runner: RecordingIpRunner): string[] {
  const ns: Record<string, FakeNetns> = { client: clientNs, nse: nseNs };
  const label = (s: string) =>
    Object.entries(ns).reduce((acc, [k, v]) => acc.split(v.path).join(`<${k}>`), s);
  return runner.batches.flatMap((b) =>
    b.commands.map((c) => `${b.netns ? label(b.netns) : '<node>'}: ${label(c)}`),
  );
}

export const kernelPref = (name = 'nsm-1') => mechanism('LOCAL', 'KERNEL', { name, inodeURL: clientNs.url });
export const vxlanPref = () => mechanism('REMOTE', 'VXLAN', { src_ip: PEER_TUNNEL_IP, src_port: '4789' });

/** Records every VNI the allocator hands out. */
export function spyAllocations(vni: vxlan.VniAllocator): number[] {
  const picked: number[] = [];
  const allocate = vni.allocate.bind(vni);
  vni.allocate = (src: string, dst: string) => {
    const v = allocate(src, dst);
    picked.push(v);
    return v;
  };
  return picked;
}

export function hasCode(code: number, message: RegExp) {
  return (e: Error & { code?: number }) => {
    if (e.code !== code) throw new Error(`code ${e.code}, want ${code}: ${e.message}`);
    if (!message.test(e.message)) throw new Error(`${e.message} does not match ${message}`);
    return true;
  };
}
