// The sandbox: a mesh of "nodes" and "pods" on one machine, all real network namespaces, running
// the real daemons as child processes. Used by `npm start` (examples/demo) and the e2e tests.
//
//   [<id>-net]  bridge br0 ── veth ── [<id>-node1] 10.X.Y.1  registry, nsmgr, forwarder
//                          └─ veth ── [<id>-node2] 10.X.Y.2  nsmgr, forwarder
//   pods: [<id>-<node>-<pod>] namespaces, each running an endpoint or a client
//
// Everything it creates carries its id; close() kills its processes and deletes its namespaces
// (which deletes every veth and VXLAN netdev inside them) and its socket directory.
//
// Identities: by default the sandbox is its own CA (trust domain `<id>.sandbox`) and gives every
// daemon an X.509-SVID `spiffe://<id>.sandbox/<daemon name>` as files under <runDir>/certs, so the
// tcp links (nsmgr <-> nsmgr, nsmgr <-> registry) run mTLS; `tls: false` runs insecure mode instead.
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { sweepFifoDirs } from '../../kernel/ip-fifo.js';
import { type CA, newCA } from '../spiffe/ca.js';
import { Daemon, Stream } from './daemon.js';
import { DAEMON_ENV, DAEMON_NODE_FLAGS, launch, SCRIPTS } from './launch.js';
import { addNodes, type SandboxNode } from './nodes.js';
import { recordDir, recordNetns } from './owned.js';
import { ipBatch, linksExcept, listNetns, sh } from './shell.js';

export type { SandboxNode };
export { DAEMON_NODE_FLAGS, Daemon, SCRIPTS, Stream };

export interface SandboxOptions {
  nodes?: number;
  /** Extra environment for every daemon (e.g. NSM_LOG_LEVEL, NSM_MAX_TOKEN_LIFETIME). */
  env?: Record<string, string>;
  /** Where daemon logs go (default: the sandbox's run directory). */
  logDir?: string;
  /**
   * Let the nsmgrs accept requests naming a pod's namespace from a process outside it (default
   * true: tests send raw requests for pods from the test process). False: the ownership check of
   * sdk/networkservice/netnsowner holds, as in production.
   */
  allowForeignNetns?: boolean;
  /**
   * mTLS with SVID files made by the sandbox (default), or insecure mode (false; also when env sets
   * NSM_INSECURE=true). With SPIFFE_ENDPOINT_SOCKET in env, every daemon gets its SVID from there.
   */
  tls?: boolean;
  /**
   * Run each node's nsmgr and forwarder in one process (nodeagent/, default false): `node.nsmgr`
   * and `node.forwarder` are then the same daemon, which startNsmgr and startForwarder (re)start.
   */
  nodeagent?: boolean;
}

export interface Pod {
  name: string;
  netns: string;
  node: SandboxNode;
}

export class Sandbox {
  readonly nodes: SandboxNode[] = [];
  readonly daemons: Daemon[] = [];
  readonly pods: Pod[] = [];
  registry?: Daemon;
  registryURL = '';
  /** The sandbox's CA when it runs mTLS. */
  ca?: CA;
  private readonly subnet: string;
  private readonly netns: string[] = [];
  /** The teardown in progress or done; every close() caller waits for the same one. */
  private closing?: Promise<void>;

  private constructor(
    readonly id: string,
    readonly runDir: string,
    private readonly opts: SandboxOptions,
  ) {
    this.subnet = `10.${randomInt(200, 250)}.${randomInt(1, 250)}`;
  }

  /** Builds the namespaces and starts registry, nsmgrs and forwarders. */
  static async create(opts: SandboxOptions = {}): Promise<Sandbox> {
    const id = `nsm${randomBytes(3).toString('hex')}`;
    const runDir = join('/run/nsm-sandbox', id);
    mkdirSync(runDir, { recursive: true });
    recordDir(runDir);
    const sb = new Sandbox(id, runDir, opts);
    try {
      // Its own CA unless told otherwise: insecure mode, or SVIDs from a Workload API (SPIRE) in env.
      const ownCA = opts.env?.NSM_INSECURE !== 'true' && !opts.env?.SPIFFE_ENDPOINT_SOCKET;
      if (opts.tls ?? ownCA) sb.ca = await newCA(`${id}.sandbox`);
      await sb.build(opts.nodes ?? 2);
      return sb;
    } catch (e) {
      await sb.close();
      throw e;
    }
  }

  private async addNetns(name: string): Promise<void> {
    if (this.closing) throw new Error(`sandbox ${this.id} is closing; not creating ${name}`);
    recordNetns(name);
    await sh('ip', ['netns', 'add', name]);
    this.netns.push(name);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  private async build(nodeCount: number): Promise<void> {
    const net = `${this.id}-net`;
    await this.addNetns(net);
    await ipBatch(['link add br0 type bridge', 'link set br0 up'], net);
    this.nodes.push(
      ...(await addNodes(this.id, this.subnet, this.runDir, nodeCount, (n) => this.addNetns(n))),
    );
    const first = this.nodes[0];
    this.registryURL = `tcp://${first.ip}:5002`;
    await this.restartRegistry();
    if (this.opts.nodeagent) {
      await Promise.all(this.nodes.map((n) => this.startNodeagent(n)));
      return;
    }
    await Promise.all(this.nodes.map((n) => this.startNsmgr(n)));
    await Promise.all(this.nodes.map((n) => this.startForwarder(n)));
  }

  /** Starts the registry in node1's namespace (again, after it was killed: same name, URL and log). */
  async restartRegistry(): Promise<Daemon> {
    this.registry = await this.spawn('registry', this.nodes[0].netns, SCRIPTS.registry, {
      NSM_LISTEN_ON: this.registryURL,
    });
    return this.registry;
  }

  async startNsmgr(node: SandboxNode): Promise<Daemon> {
    if (this.opts.nodeagent) return this.startNodeagent(node);
    node.nsmgr = await this.spawn(`nsmgr-${node.name}`, node.netns, SCRIPTS.nsmgr, this.nsmgrEnv(node));
    return node.nsmgr;
  }

  private nsmgrEnv(node: SandboxNode): Record<string, string> {
    return {
      NSM_NAME: `nsmgr-${node.name}`,
      NODE_NAME: node.name,
      NSM_LISTEN_ON: `unix://${node.nsmgrSocket},${node.nsmgrURL}`,
      NSM_REGISTRY_URL: this.registryURL,
      NSM_ALLOW_FOREIGN_NETNS: String(this.opts.allowForeignNetns ?? true),
      // root here (the tests, the demo, nsmctl beside them) is an operator: sees every connection
      NSM_OPERATOR_NETNS: `/proc/${process.pid}/ns/net`,
      // The sandbox's own file, never the host's: tests write it to exclude prefixes.
      NSM_EXCLUDED_PREFIXES_FILE: node.excludedPrefixesFile,
    };
  }

  /** Whether each node's nsmgr and forwarder are one process (SandboxOptions.nodeagent). */
  get nodeagent(): boolean {
    return this.opts.nodeagent === true;
  }

  /** The node's nsmgr and forwarder in one process (nodeagent/); both fields name it. */
  async startNodeagent(node: SandboxNode, env: Record<string, string> = {}): Promise<Daemon> {
    const agent = await this.spawn(
      `nodeagent-${node.name}`,
      node.netns,
      SCRIPTS.nodeagent,
      {
        ...this.nsmgrEnv(node),
        NSM_FORWARDER_NAME: `forwarder-${node.name}`,
        NSM_FORWARDER_LISTEN_ON: `unix://${node.forwarderSocket}`,
        NSM_TUNNEL_IP: node.ip,
        ...env,
      },
      (l) => l.includes('"msg":"nodeagent serving"'),
    );
    node.nsmgr = agent;
    node.forwarder = agent;
    return agent;
  }

  async startForwarder(node: SandboxNode, env: Record<string, string> = {}): Promise<Daemon> {
    if (this.opts.nodeagent) return this.startNodeagent(node, env);
    node.forwarder = await this.spawn(`forwarder-${node.name}`, node.netns, SCRIPTS.forwarder, {
      NSM_NAME: `forwarder-${node.name}`,
      NSM_LISTEN_ON: `unix://${node.forwarderSocket}`,
      NSM_CONNECT_TO: `unix://${node.nsmgrSocket}`,
      NSM_TUNNEL_IP: node.ip,
      ...env,
    });
    return node.forwarder;
  }

  node(name: string): SandboxNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async addPod(node: SandboxNode, name: string): Promise<Pod> {
    const netns = `${this.id}-${node.name}-${name}`;
    await this.addNetns(netns);
    const pod = { name, netns, node };
    this.pods.push(pod);
    return pod;
  }

  /** What every endpoint in the pod is told: its name, its nsmgr, and its own socket. */
  private endpointEnv(pod: Pod): Record<string, string> {
    return {
      NSM_NAME: pod.name,
      NSM_CONNECT_TO: `unix://${pod.node.nsmgrSocket}`,
      NSM_LISTEN_ON: `unix://${join(this.runDir, pod.node.name, `nse-${pod.name}.sock`)}`,
    };
  }

  /** Starts an icmp-responder endpoint in the pod; resolves once it is registered. */
  startEndpoint(pod: Pod, env: Record<string, string>): Promise<Daemon> {
    return this.startCnf(pod, SCRIPTS.icmpResponder, env);
  }

  /** Starts a CNF (passthrough or firewall script) in the pod; resolves once it is registered. */
  startCnf(pod: Pod, script: string, env: Record<string, string>): Promise<Daemon> {
    return this.spawn(`nse-${pod.name}`, pod.netns, script, {
      ...this.endpointEnv(pod),
      ...env,
    });
  }

  /** Registers the NetworkServices of YAML files with the registry (nsm-apply); resolves with its output. */
  async apply(files: string[]): Promise<string> {
    const identity = Object.entries(await this.issueIdentity('nsm-apply')).map(([k, v]) => `${k}=${v}`);
    return sh('ip', [
      'netns',
      'exec',
      this.nodes[0].netns,
      'env',
      `NSM_REGISTRY_URL=${this.registryURL}`,
      ...identity,
      process.execPath,
      SCRIPTS.apply,
      ...files,
    ]);
  }

  /** Where vl3-ipam serves: a unix socket, since pods have no network but the mesh's (in k8s: a Service). */
  vl3IpamURL(node: SandboxNode): string {
    return `unix://${join(this.runDir, node.name, 'vl3-ipam.sock')}`;
  }

  /** Starts vl3-ipam in the node's namespace, serving on `vl3IpamURL(node)`. */
  startVl3Ipam(node: SandboxNode, env: Record<string, string> = {}): Promise<Daemon> {
    return this.spawn(
      'vl3-ipam',
      node.netns,
      SCRIPTS.vl3Ipam,
      { NSM_LISTEN_ON: this.vl3IpamURL(node), ...env },
      (l) => l.includes('"msg":"vl3-ipam serving"'),
    );
  }

  /** Starts a vL3 endpoint replica in the pod; resolves once it serves (it has its slice and is registered). */
  startVl3(pod: Pod, env: Record<string, string>): Promise<Daemon> {
    return this.spawn(
      `vl3-${pod.name}`,
      pod.netns,
      SCRIPTS.vl3,
      {
        ...this.endpointEnv(pod),
        NSM_STATE_FILE: join(this.runDir, pod.node.name, `vl3-${pod.name}.json`),
        ...env,
      },
      (l) => l.includes('"msg":"vL3 endpoint serving"'),
    );
  }

  /** The pod's resolv.conf as processes started with `ip netns exec` see it (the nsc writes it). */
  resolvConf(pod: Pod): string {
    mkdirSync(join('/etc/netns', pod.netns), { recursive: true });
    return join('/etc/netns', pod.netns, 'resolv.conf');
  }

  /** Starts a client in the pod; resolves with its connections once all are established. */
  async startClient(
    pod: Pod,
    networkServices: string,
    env: Record<string, string> = {},
  ): Promise<{ daemon: Daemon; connections: Connection[] }> {
    const count = networkServices.split(',').length;
    const connections: Connection[] = [];
    const daemon = await this.spawn(
      `nsc-${pod.name}`,
      pod.netns,
      SCRIPTS.nsc,
      {
        NSM_NAME: pod.name,
        NSM_CONNECT_TO: `unix://${pod.node.nsmgrSocket}`,
        NSM_NETWORK_SERVICES: networkServices,
        NSM_DNS_RESOLV_CONF: this.resolvConf(pod),
        ...env,
      },
      (line) => {
        if (!line.startsWith('{"connection"')) return false;
        connections.push((JSON.parse(line) as { connection: Connection }).connection);
        return connections.length === count;
      },
    );
    return { daemon, connections };
  }

  /** The SPIFFE ID the sandbox gives the daemon `name`. */
  spiffeId(name: string): string {
    return `spiffe://${this.ca?.trustDomain ?? `${this.id}.sandbox`}/${name}`;
  }

  /**
   * Writes a new SVID for the daemon `name` (its files are replaced atomically; the daemon picks
   * them up within a second), optionally under another SPIFFE ID; returns the NSM_* variables.
   */
  async issueIdentity(name: string, spiffeId = this.spiffeId(name)): Promise<Record<string, string>> {
    if (this.opts.env?.SPIFFE_ENDPOINT_SOCKET) return {}; // the Workload API gives it
    if (!this.ca) return { NSM_INSECURE: 'true' };
    const f = await this.ca.writeSvid(join(this.runDir, 'certs', name), name, spiffeId);
    return { NSM_CERT_FILE: f.certFile, NSM_KEY_FILE: f.keyFile, NSM_BUNDLE_FILE: f.bundleFile };
  }

  /** Spawns `ip netns exec NETNS node SCRIPT` with its identity and waits until `ready` says so (default: a "serving" log line). */
  async spawn(
    name: string,
    netns: string,
    script: string,
    env: Record<string, string>,
    ready: (line: string) => boolean = (l) => /"msg":"[a-z-]+ serving"/.test(l),
  ): Promise<Daemon> {
    const identity = await this.issueIdentity(name);
    return this.spawnArgs(name, netns, [...DAEMON_NODE_FLAGS, script], ready, { ...identity, ...env });
  }

  private async spawnArgs(
    name: string,
    netns: string,
    args: string[],
    ready: (line: string) => boolean,
    env: Record<string, string> = {},
  ): Promise<Daemon> {
    if (this.closing) throw new Error(`sandbox ${this.id} is closing; not starting ${name}`);
    const logDir = this.opts.logDir ?? join(this.runDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const { daemon, ready: isReady } = launch({
      name,
      netns,
      args,
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        ...DAEMON_ENV,
        ...this.opts.env,
        ...env,
      },
      logFile: join(logDir, `${name}.log`),
      ready,
    });
    this.daemons.push(daemon);
    await isReady;
    return daemon;
  }

  /** Runs the traffic probe inside a namespace. */
  probe(netns: string, args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', netns, process.execPath, SCRIPTS.probe, ...args]);
  }

  /** Starts echo servers (TCP and UDP) inside a namespace; stop them with daemon.stop(). */
  echoServer(netns: string, host: string, port: number): Promise<Daemon> {
    return this.spawnArgs(
      `echo-${netns}-${port}`,
      netns,
      [SCRIPTS.probe, 'serve', host, String(port)],
      (l) => l === 'ready',
    );
  }

  /**
   * Starts a UDP stream from the pod to an echo server (see probe.ts `stream`): a numbered datagram
   * every intervalMs. `host` may be "@IFNAME" (the peer of that interface, followed as it changes).
   */
  async startStream(pod: Pod, host: string, port: number, intervalMs: number): Promise<Stream> {
    const daemon = await this.spawnArgs(
      `stream-${pod.name}-${port}`,
      pod.netns,
      [SCRIPTS.probe, 'stream', host, String(port), String(intervalMs)],
      (l) => l === 'streaming',
    );
    return new Stream(daemon);
  }

  /** Links other than loopback in the sandbox's pod namespaces (what connections left behind). */
  podLinks(): Promise<{ netns: string; ifname: string }[]> {
    return linksExcept(
      this.pods.map((p) => p.netns),
      ['lo'],
    );
  }

  /** VXLAN and veth links in node namespaces other than the underlay. */
  nodeLinks(): Promise<{ netns: string; ifname: string }[]> {
    return linksExcept(
      this.nodes.map((n) => n.netns),
      ['lo', 'eth0'],
    );
  }

  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    await Promise.all(
      this.daemons.filter((d) => /^(nsc|nse|echo|stream)-/.test(d.name)).map((d) => d.stop()),
    );
    // Daemons started while the first stops were running are stopped too.
    while (this.daemons.some((d) => d.running)) await Promise.all(this.daemons.map((d) => d.stop()));
    const existing = new Set(await listNetns());
    for (const ns of [...this.netns].reverse()) {
      if (existing.has(ns)) await sh('ip', ['netns', 'delete', ns]).catch(() => undefined);
      // A client's mesh DNS (NSM_DNS_RESOLV_CONF) lives here; `ip netns delete` leaves it.
      rmSync(join('/etc/netns', ns), { recursive: true, force: true });
    }
    rmSync(this.runDir, { recursive: true, force: true });
    sweepFifoDirs(); // of the forwarders a test killed with -9 (sdk/kernel/ip-fifo.ts)
  }
}
