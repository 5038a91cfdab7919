// Command-line options (`npm run bench -- --only=latency --n=500`).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchOptions, PARTS, type Part } from './context.js';

/** bench/results in the source tree (this file runs from dist/bench). */
export const DEFAULT_OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

export const USAGE = `usage: npm run bench -- [options]     (as root)

  --only=PARTS          comma-separated parts to run (default: all):
                        ${PARTS.join(', ')}
  --n=N                 sequential requests per path for setup latency, and CNI
                        attachments (default 200)
  --concurrency=LIST    concurrent request rounds (default 50,200,500)
  --scale=N             live connections held on one node (default 1000)
  --scale-extra=N       requests measured on top of them (default 100)
  --scale-parallel=N    requests in flight while filling/emptying the node (default 16)
  --endpoints=N         icmp-responder endpoints serving the bench service (default 4)
  --cni-concurrency=N   CNI ptp ADDs run at once, the concurrency baseline (default 200)
  --scale-few=N         pods on the node for the "few pods" setup latency of the scale part (default 10)
  --iperf-seconds=S     length of each iperf3 run (default 5)
  --dataplane-rounds=N  iperf3 runs per path, interleaved with the raw baselines (default 3)
  --rtt-count=N         UDP round trips per path (default 2000)
  --heal-wait=S         how long to wait for traffic to come back (default 10)
  --vl3-members=N       members of the vL3 network before the measured joins (default 100)
  --profile             CPU-profile the daemons; profiles go to OUT/profiles
  --daemon-env=K=V,...  extra environment for the daemons (e.g. NSM_TRACE=kernel)
  --layout=L            each node's nsmgr and forwarder: nodeagent (one process,
                        default) or separate (two processes)
  --no-install          do not apt-get missing tools; stop and say what to install
  --out=DIR             where latest.json and latest.md go (default bench/results)
  -h, --help            this text`;

function int(name: string, v: string | undefined, def: number, min = 1): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got "${v}"`);
  return n;
}

function parseEnv(v: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of (v ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--daemon-env: expected K=V, got "${kv}"`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      only: { type: 'string' },
      n: { type: 'string' },
      concurrency: { type: 'string' },
      scale: { type: 'string' },
      'scale-extra': { type: 'string' },
      'scale-parallel': { type: 'string' },
      'vl3-members': { type: 'string' },
      endpoints: { type: 'string' },
      'cni-concurrency': { type: 'string' },
      'scale-few': { type: 'string' },
      'iperf-seconds': { type: 'string' },
      'dataplane-rounds': { type: 'string' },
      'rtt-count': { type: 'string' },
      'heal-wait': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'daemon-env': { type: 'string' },
      layout: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [...PARTS];
  for (const p of only) {
    if (!(PARTS as readonly string[]).includes(p)) {
      throw new Error(`--only: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
    }
  }
  const layout = values.layout ?? 'nodeagent';
  if (layout !== 'nodeagent' && layout !== 'separate') {
    throw new Error(`--layout: expected nodeagent or separate, got "${layout}"`);
  }
  const concurrency = (values.concurrency ?? '50,200,500')
    .split(',')
    .map((s) => int('concurrency', s.trim(), 0));
  return {
    only: PARTS.filter((p) => only.includes(p)) as Part[],
    n: int('n', values.n, 200),
    concurrency,
    scale: int('scale', values.scale, 1000),
    scaleExtra: int('scale-extra', values['scale-extra'], 100),
    scaleParallel: int('scale-parallel', values['scale-parallel'], 16),
    endpoints: int('endpoints', values.endpoints, 4),
    cniConcurrency: int('cni-concurrency', values['cni-concurrency'], 200),
    scaleFew: int('scale-few', values['scale-few'], 10),
    iperfSeconds: int('iperf-seconds', values['iperf-seconds'], 5),
    dataplaneRounds: int('dataplane-rounds', values['dataplane-rounds'], 3),
    rttCount: int('rtt-count', values['rtt-count'], 2000),
    healWaitS: int('heal-wait', values['heal-wait'], 10),
    vl3Members: int('vl3-members', values['vl3-members'], 100),
    profile: values.profile ?? false,
    daemonEnv: parseEnv(values['daemon-env']),
    layout,
    install: !values['no-install'],
    outDir: resolve(values.out ?? DEFAULT_OUT_DIR),
  };
}
