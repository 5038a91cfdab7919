// The mesh under test: the sandbox (2 nodes: registry on node1, nsmgr + forwarder on each) with
// icmp-responder endpoints for service "bench" on node2. Clients on node2 get local connections
// (one veth pair); clients on node1 get remote ones (VXLAN node1 → node2).
//
// Several endpoints share the load: the endpoint side of a connection gets a generated interface
// name (service prefix + 4 random characters), and hundreds of them in one namespace would
// eventually collide (see the README).
import type { Connection } from '../api/gen/networkservice/connection.js';
import type { Daemon, Pod, Sandbox, SandboxNode } from '../sdk/tools/sandbox/sandbox.js';
import { Sandbox as SandboxClass } from '../sdk/tools/sandbox/sandbox.js';
import { addresses, links } from '../sdk/tools/sandbox/shell.js';
import { MeshClient } from './client.js';
import { addNetns } from './netns.js';

export const SERVICE = 'bench';

export interface MeshOptions {
  endpoints: number;
  env?: Record<string, string>;
  logDir?: string;
  /** Each node's nsmgr and forwarder in one process (nodeagent/). */
  nodeagent?: boolean;
}

export class Mesh {
  readonly clients = new Map<string, MeshClient>();
  readonly endpointPods = new Map<string, Pod>();
  readonly endpointDaemons = new Map<string, Daemon>();
  private seq = 0;

  private constructor(readonly sb: Sandbox) {}

  static async start(opts: MeshOptions): Promise<Mesh> {
    const sb = await SandboxClass.create({
      nodes: 2,
      env: opts.env,
      logDir: opts.logDir,
      nodeagent: opts.nodeagent,
    });
    const mesh = new Mesh(sb);
    try {
      for (let i = 1; i <= opts.endpoints; i++) {
        await mesh.startEndpoint(`nse-${i}`, SERVICE, `10.${99 + i}.0.0/16`);
      }
    } catch (e) {
      await sb.close();
      throw e;
    }
    return mesh;
  }

  get node1(): SandboxNode {
    return this.sb.nodes[0];
  }

  get node2(): SandboxNode {
    return this.sb.nodes[1];
  }

  /** An icmp-responder on node2 serving `service` from `cidr`. */
  async startEndpoint(name: string, service: string, cidr: string): Promise<Pod> {
    const pod = await this.sb.addPod(this.node2, name);
    const daemon = await this.sb.startEndpoint(pod, {
      NSM_SERVICE_NAMES: service,
      NSM_CIDR_PREFIX: cidr,
    });
    this.endpointPods.set(name, pod);
    this.endpointDaemons.set(name, daemon);
    return pod;
  }

  client(node: SandboxNode): MeshClient {
    let c = this.clients.get(node.name);
    if (!c) {
      c = new MeshClient(node.nsmgrSocket);
      this.clients.set(node.name, c);
    }
    return c;
  }

  /** `count` fresh pod namespaces on a node, made in one batch. */
  async pods(node: SandboxNode, prefix: string, count: number): Promise<string[]> {
    const names = Array.from(
      { length: count },
      (_, i) => `${this.sb.id}-${node.name}-${prefix}${String(i).padStart(4, '0')}`,
    );
    await addNetns(names);
    return names;
  }

  /** A connection id unique in this run. */
  nextId(tag: string): string {
    return `bench-${tag}-${++this.seq}`;
  }

  /** The endpoint pod that serves a connection. */
  endpointOf(conn: Connection): Pod {
    const pod = this.endpointPods.get(conn.networkServiceEndpointName);
    if (!pod) throw new Error(`unknown endpoint "${conn.networkServiceEndpointName}"`);
    return pod;
  }

  /** Checks that the client interface exists in the pod with the connection's source address. */
  async verify(netns: string, conn: Connection, ifname = 'nsm-1'): Promise<string | undefined> {
    const want = conn.context?.ipContext?.srcIpAddrs ?? [];
    if (want.length === 0) return 'the connection carries no source address';
    let have: string[];
    try {
      have = await addresses(netns, ifname);
    } catch (e) {
      return `no interface ${ifname} in ${netns}: ${e instanceof Error ? e.message : String(e)}`;
    }
    const missing = want.filter((a) => !have.includes(a));
    return missing.length
      ? `${ifname} in ${netns} has ${have.join(', ')}, not ${missing.join(', ')}`
      : undefined;
  }

  /** Links other than lo in the endpoints' namespaces (one per live connection; gone namespaces count 0). */
  async endpointLinkCount(): Promise<number> {
    let n = 0;
    for (const pod of this.endpointPods.values()) {
      n += (await links(pod.netns).catch(() => [])).filter((l) => l.ifname !== 'lo').length;
    }
    return n;
  }

  /**
   * The node's daemons; with the nodeagent layout `nsmgr` is the one process of both and
   * `forwarder` is absent.
   */
  daemonPids(node: SandboxNode): {
    nsmgr?: number;
    forwarder?: number;
    registry?: number;
    nodeagent: boolean;
  } {
    const { nodeagent } = this.sb;
    return {
      nsmgr: node.nsmgr?.pid,
      forwarder: nodeagent ? undefined : node.forwarder?.pid,
      registry: this.sb.registry?.pid,
      nodeagent,
    };
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.dispose();
    this.clients.clear();
    await this.sb.close();
  }
}

/** Strips the prefix length: "10.100.0.1/32" → "10.100.0.1". */
export function hostOf(cidr: string | undefined): string {
  if (!cidr) throw new Error('no address');
  return cidr.split('/')[0];
}
