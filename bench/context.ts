// What the parts share: options, the mesh, and the raw data each part records. Figures (with
// baselines, ratios and targets) are derived from the data in one place, figures.ts.
import type { Mesh } from './mesh.js';
import type { ProcSample } from './procstat.js';
import type { Summary } from './stats.js';

/** In run order: scale before concurrency, so that nothing a timed-out request left behind skews its idle figures. */
export const PARTS = [
  'latency',
  'cni',
  'scale',
  'concurrency',
  'dataplane',
  'heal',
  'chain',
  'l7',
  'observability',
  'vl3',
] as const;
export type Part = (typeof PARTS)[number];

export interface BenchOptions {
  only: Part[];
  /** Sequential requests per path (latency), and CNI attachments. */
  n: number;
  concurrency: number[];
  scale: number;
  scaleExtra: number;
  /** Requests in flight while filling (and emptying) the node for the scale part. */
  scaleParallel: number;
  endpoints: number;
  /** CNI ADDs at once for the concurrency baseline. */
  cniConcurrency: number;
  /** Pods on the node while the "few pods" setup latency is measured (scale part). */
  scaleFew: number;
  iperfSeconds: number;
  dataplaneRounds: number;
  rttCount: number;
  healWaitS: number;
  /** Members of the vL3 network before the measured joins. */
  vl3Members: number;
  profile: boolean;
  daemonEnv: Record<string, string>;
  /** Each node's nsmgr and forwarder: one process (nodeagent/) or two. */
  layout: 'nodeagent' | 'separate';
  install: boolean;
  outDir: string;
}

export interface PathLatency {
  setup: Summary;
  close: Summary;
  failures: number;
  /** undefined when the sampled interface and address were found; otherwise what was wrong. */
  verifyProblem?: string;
  verified: number;
}

export interface ConcurrencyRound {
  concurrent: number;
  ok: number;
  failures: number;
  wallMs: number;
  perSecond: number;
  setup: Summary;
  closeWallMs: number;
  closePerSecond: number;
  /** Links that appeared in endpoint namespaces during the round and were still there after it. */
  leftoverEndpointLinks: number;
  /** Pods of failed requests that still have nsm-1 (made for a caller that gave up). */
  leftoverClientLinks: number;
}

export interface DaemonSnapshot {
  label: string;
  liveConnections: number;
  /** With the nodeagent layout: the one process of nsmgr and forwarder (`forwarder` is then absent). */
  nsmgr?: ProcSample;
  forwarder?: ProcSample;
  registry?: ProcSample;
  /** nsmgr and forwarder ran in one process (nodeagent/). */
  nodeagent?: boolean;
}

/** What the node looked like: mount entries grow with every named netns (`ip netns add` bind-mounts it). */
export interface NodeState {
  /** Lines of /proc/self/mountinfo (the bench runs in the host's mount namespace, like the daemons). */
  mountEntries: number;
  /** Named network namespaces (/var/run/netns): the pods, endpoints and nodes of every run on the machine. */
  namedNetns: number;
}

/** Resident memory of nsmgr + forwarder sampled through the scale part (every 500 ms). */
export interface MemorySpread {
  samples: number;
  /** Sum of nsmgr and forwarder VmRSS: min, median, max over the samples. */
  pairMinMiB: number;
  pairMedianMiB: number;
  pairMaxMiB: number;
  /** VmHWM at the end of the part (peak since each process started), per daemon and summed. */
  nsmgrHwmMiB: number;
  /** Absent when the forwarder runs in the nsmgr's process (nodeagent: nsmgrHwmMiB is both). */
  forwarderHwmMiB?: number;
  pairHwmMiB: number;
}

export interface ScaleData {
  target: number;
  /** Sequential request → close cycles with only a few pods on the node (before the fill). */
  few?: { pods: number; state: NodeState; setup: Summary; before?: Summary; after?: Summary };
  /** The same cycles with all `scale + extra` pods made and no connection live. */
  manyPods?: { pods: number; state: NodeState; setup: Summary };
  /** Node state while the `extra` requests were measured. */
  fullState?: NodeState;
  memory?: MemorySpread;
  parallel: number;
  live: number;
  failures: number;
  fillWallMs: number;
  fillPerSecond: number;
  fill: Summary;
  extra: Summary;
  extraFailures: number;
  closeWallMs: number;
  closeFailures: number;
  snapshots: DaemonSnapshot[];
  /** Links added to the endpoint namespaces during the part and still there after closing all. */
  leftoverLinks: number;
  /** `nsmctl get connections` against the nsmgr at full scale (parts/nsmctl-get.ts). */
  nsmctlGet?: NsmctlGetData;
}

export interface NsmctlGetData {
  /** Connections the nsmgr held, and the rows nsmctl printed. */
  held: number;
  listed: number;
  /** Spawn to exit of a new node process, per run. */
  wall: Summary;
  /** The command's own user + sys CPU time (absent without /usr/bin/time). */
  cpu?: Summary;
  loadBefore: number;
  loadAfter: number;
}

export interface Throughput {
  gbps: number[];
  retransmits: number[];
}

export interface Rtt {
  /** Medians over the rounds of each round's percentile. */
  p50Us: number;
  p90Us: number;
  p99Us: number;
  lost: number;
  rounds: { p50Us: number; p90Us: number; p99Us: number }[];
}

export interface DataplaneData {
  mtu: { local: number; remote: number };
  throughput: Record<'local' | 'rawVeth' | 'remote' | 'rawVxlan', Throughput>;
  rtt: Record<'local' | 'rawVeth' | 'remote' | 'rawVxlan', Rtt>;
}

export interface StreamPhase {
  label: string;
  sent: number;
  echoed: number;
  lost: number;
}

export interface HealData {
  endpointDeath?: {
    restored: boolean;
    restoredAfterMs?: number;
    waitedMs: number;
    events: { t: number; reachable: boolean; peer: string | null }[];
    note: string;
  };
  forwarderKill: {
    path: 'local' | 'remote';
    node: string;
    /** What was killed: the forwarder, or the nodeagent that holds it and the nsmgr. */
    killed?: 'forwarder' | 'nodeagent';
    downMs: number;
    intervalMs: number;
    phases: StreamPhase[];
    lost: number;
    maxGapMs: number;
    interfaceAfterRestart: boolean;
    note: string;
  }[];
}

export interface CniData {
  /** Whole exec of the plugin, as a runtime pays it (nsenter into the scratch host netns included). */
  add: Summary;
  del: Summary;
  /** `nsenter --net=NS /bin/true`, included in every add/del sample (the plugin runs in a scratch namespace). */
  execOverhead: Summary;
  failures: number;
  verifyProblem?: string;
  pluginVersion: string;
  /** The same veth + address + route work done by hand with iproute2 (2 processes), whole wall time. */
  floor?: Summary;
  /** ADD run `n` at once (each into its own fresh namespace): the concurrency baseline. */
  concurrent?: { n: number; ok: number; wallMs: number; perSecond: number; add: Summary };
}

/** CNF chaining (bench/parts/chain.ts). */
export interface ChainData {
  /** Sequential Request → Connection through the 4-hop chain across both nodes. */
  setup?: Summary;
  failures: number;
  /** The endpoints the first connection passed. */
  hops?: string;
  /** iperf3 rounds on node1: direct, one passthrough, the firewall with 10 rules, ETHERNET joins. */
  throughputGbps: {
    direct: number[];
    passthrough: number[];
    firewall: number[];
    'l2-bridge': number[];
    'l2-mirred': number[];
  };
  /** kill -9 of the passthrough-1 in use until traffic passes through its replica. */
  healMs?: number;
  healNote?: string;
}

/** L7 gateway (bench/parts/l7.ts): per round, the same HAProxy over a mesh connection and a plain veth. */
export interface L7Data {
  p50Ms: { mesh: number[]; veth: number[] };
  rps: { mesh: number[]; veth: number[] };
  failed: number;
}

/** bench/observability.ts: medians over its rounds of one hop's Request + Close, in µs. */
export interface ObservabilityData {
  n: number;
  rounds: number;
  /** base: the prefix without metrics/logscope/trace; off: as shipped, both off; on: both on. */
  usPerSetupAndClose: { base: number; off: number; on: number };
  /** One kernel operation through the metrics/tracing hook (the operation itself does nothing). */
  usPerKernelOp: { off: number; on: number };
  otlpPosts: number;
}

/** One DNS path: sequential A queries, p50/p90 of the round trip. */
export interface DnsPath {
  n: number;
  p50Ms: number;
  p90Ms: number;
  failed: number;
}

/** vL3 networks (bench/parts/vl3.ts). */
export interface Vl3Data {
  members: number;
  fillMs?: number;
  /** From the join request's start until an existing member's knock is answered. */
  joinReachable?: Summary;
  /** The join request alone (Request → Connection). */
  joinRequest?: Summary;
  /** Interleaved with the joins: a request to the point-to-point icmp-responder from a fresh pod. */
  p2pRequest?: Summary;
  joinFailures: number;
  /** The name of a member on the asker's own replica / on the other replica, via the nsc's forwarder and straight to the replica. */
  dns?: {
    forwarderSame?: DnsPath;
    forwarderOther?: DnsPath;
    directSame?: DnsPath;
    directOther?: DnsPath;
  };
  death?: { members: number; healed: number; allBackMs?: number; perMemberMs: number[]; waitedMs: number };
}

export interface BenchData {
  chain?: ChainData;
  l7?: L7Data;
  observability?: ObservabilityData;
  vl3?: Vl3Data;
  latency?: { local?: PathLatency; remote?: PathLatency };
  cni?: CniData;
  concurrency?: ConcurrencyRound[];
  scale?: ScaleData;
  dataplane?: DataplaneData;
  heal?: HealData;
  startup?: DaemonSnapshot;
  /** Mount entries and named namespaces when each part started. */
  nodeState?: Partial<Record<Part, NodeState>>;
  /** 1-minute load average when the run started (this machine may be shared). */
  loadAtStart?: number;
}

export interface BenchContext {
  opts: BenchOptions;
  mesh?: Mesh;
  data: BenchData;
  /** Problems worth reporting that did not stop the run. */
  errors: string[];
  log(line: string): void;
}
