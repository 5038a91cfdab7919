// Find latency of the registry's k8s backend, served from its informer cache, with N endpoints (default
// 1000), against the memory backend in the same run as the baseline. Needs root only to start a control
// plane (cluster/testenv.ts; NSM_K8S_TESTENV_DIR reuses a running one). Target (issue 9, item 4): Find p50
// <= 5 ms with 1000 endpoints.
//
//   npm run build && node dist/bench/registry-k8s.js [--endpoints=1000] [--finds=300]
//
// Registry A writes the endpoints (gRPC Register, so through the whole chain into the apiserver); registry
// B, a second process-local registry on the same namespace, answers the Finds from what its informer saw,
// so the numbers are for objects written elsewhere. Each Find is one gRPC call over a unix socket: by name
// (1 result), by service (10 results), and the whole list (N results).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { kubectl } from '../cluster/clients.js';
import { down } from '../cluster/down.js';
import { testenvHealthy, testenvUp } from '../cluster/testenv.js';
import { newRegistryChains, type Registry, type RegistryOptions, startRegistry } from '../registry/server.js';
import { background } from '../sdk/core/context.js';
import { newNseRegistryClient } from '../sdk/grpc/registry-client.js';
import { mapLimit, round, type Summary, summarize } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name: string, def: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const N = arg('endpoints', 1000);
const FINDS = arg('finds', 300);

const nse = (i: number) =>
  NetworkServiceEndpoint.fromPartial({
    name: `nse-${i}`,
    url: `tcp://10.0.${Math.floor(i / 250)}.${i % 250}:5001`,
    networkServiceNames: [`svc-${i % (N / 10)}`],
    networkServiceLabels: { [`svc-${i % (N / 10)}`]: { labels: { app: `a${i}` } } },
  });

/**
 * Finds against both registries, alternating call by call, so load from the other helpers on this machine
 * and JIT warm-up hit both backends alike.
 */
async function measure(urls: Record<string, string>): Promise<Record<string, Record<string, Summary>>> {
  const clients = Object.entries(urls).map(([b, url]) => [b, newNseRegistryClient(url)] as const);
  try {
    const queries = {
      'by name (1 result)': (i: number) => NetworkServiceEndpoint.fromPartial({ name: `nse-${(i * 7) % N}` }),
      'by service (10 results)': (i: number) =>
        NetworkServiceEndpoint.fromPartial({ networkServiceNames: [`svc-${i % (N / 10)}`] }),
      [`all (${N} results)`]: () => undefined,
    };
    const out: Record<string, Record<string, Summary>> = {};
    for (const [label, q] of Object.entries(queries)) {
      const ms: Record<string, number[]> = Object.fromEntries(clients.map(([b]) => [b, []]));
      for (let i = 0; i < FINDS; i++) {
        for (const [b, c] of clients) {
          let n = 0;
          const t = process.hrtime.bigint();
          await c.find(background(), { networkServiceEndpoint: q(i), watch: false }, () => n++);
          ms[b].push(Number(process.hrtime.bigint() - t) / 1e6);
          if (n === 0) throw new Error(`find ${label} on ${b} returned nothing`);
        }
      }
      for (const [b, samples] of Object.entries(ms)) {
        out[b] ??= {};
        out[b][label] = summarize(samples.slice(Math.min(20, FINDS / 10))); // the first calls warm up the JIT
      }
    }
    return out;
  } finally {
    for (const [, c] of clients) await c.close();
  }
}

/** The same Find by name on a k8s chain in this process: the cache's own cost, without gRPC. */
async function measureInProcess(chains: ReturnType<typeof newRegistryChains>): Promise<Summary> {
  const ms: number[] = [];
  for (let i = 0; i < FINDS; i++) {
    let n = 0;
    const t = process.hrtime.bigint();
    await chains.nse.find(
      background(),
      {
        networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({ name: `nse-${(i * 7) % N}` }),
        watch: false,
      },
      () => n++,
    );
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (n !== 1) throw new Error(`in-process find by name returned ${n}`);
  }
  return summarize(ms.slice(Math.min(20, FINDS / 10)));
}

async function fill(url: string): Promise<number> {
  const c = newNseRegistryClient(url);
  const t = Date.now();
  try {
    await mapLimit(
      Array.from({ length: N }, (_, i) => i),
      16,
      (i) => c.register(background(), nse(i)),
    );
  } finally {
    await c.close();
  }
  return Date.now() - t;
}

async function countSeen(url: string): Promise<number> {
  const c = newNseRegistryClient(url);
  let n = 0;
  try {
    await c.find(background(), { networkServiceEndpoint: undefined, watch: false }, () => n++);
  } finally {
    await c.close();
  }
  return n;
}

async function main(): Promise<void> {
  const sock = fs.mkdtempSync(path.join(os.tmpdir(), 'nsm-bench-reg-'));
  let envDir = process.env.NSM_K8S_TESTENV_DIR;
  let owned = false;
  const open: Registry[] = [];
  try {
    if (!envDir || !(await testenvHealthy(envDir))) {
      envDir = fs.mkdtempSync('/tmp/nsmt-');
      owned = true;
      await testenvUp(envDir);
    }
    const k = async (args: string[]) => {
      const r = await kubectl(envDir as string, args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    };
    await k(['apply', '-k', path.join(REPO, 'deploy', 'crds')]);
    await k(['wait', '--for=condition=Established', 'crd/networkserviceendpoints.networkservicemesh.io']);
    const ns = `nsm-bench-${randomBytes(3).toString('hex')}`;
    await k(['create', 'namespace', ns]);
    const start = async (name: string, o: Partial<RegistryOptions>) => {
      const r = await startRegistry({ name, listenOn: `unix://${path.join(sock, `${name}.sock`)}`, ...o });
      open.push(r);
      return r;
    };
    const k8sOpts = {
      backend: 'k8s' as const,
      k8sNamespace: ns,
      k8s: { kubeconfig: path.join(envDir, 'kubeconfig') },
      expirePeriodMs: 3_600_000,
    };
    const a = await start('writer', k8sOpts);
    const b = await start('reader', k8sOpts);
    const mem = await start('memory', { backend: 'memory', expirePeriodMs: 3_600_000 });

    const writeMs = await fill(a.url);
    const t = Date.now();
    while ((await countSeen(b.url)) < N) {
      if (Date.now() - t > 60_000) throw new Error('the reader did not see every endpoint within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const syncMs = Date.now() - t;
    await fill(mem.url);

    const { k8s, memory } = await measure({ k8s: b.url, memory: mem.url });
    const local = newRegistryChains({
      backend: 'k8s',
      k8s: { namespace: ns, kubeconfig: k8sOpts.k8s.kubeconfig },
    });
    let inProcess: Summary;
    try {
      await local.ready;
      inProcess = await measureInProcess(local);
    } finally {
      await local.close();
    }
    const lines = [
      `registry Find latency, ${N} endpoints, ${FINDS} Finds per query (ms; gRPC over a unix socket)`,
      `register ${N} through the k8s backend (16 in flight): ${writeMs} ms; last one seen by the other registry ${syncMs} ms later`,
      '',
      '| query | k8s p50 | k8s p90 | k8s p99 | memory p50 | memory p99 |',
      '| --- | --- | --- | --- | --- | --- |',
      ...Object.keys(k8s).map(
        (q) =>
          `| ${q} | ${round(k8s[q].p50)} | ${round(k8s[q].p90)} | ${round(k8s[q].p99)} | ${round(memory[q].p50)} | ${round(memory[q].p99)} |`,
      ),
      `| by name, in process (no gRPC) | ${round(inProcess.p50)} | ${round(inProcess.p90)} | ${round(inProcess.p99)} | | |`,
      '',
      `load average while measuring: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (${os.cpus().length} cores)`,
      // the target is for a Find that selects endpoints (by name, by service); streaming all N is shown for scale
      `target: Find from the informer cache p50 <= 5 ms: ${
        ['by name (1 result)', 'by service (10 results)'].every((q) => k8s[q].p50 <= 5) ? 'met' : 'MISSED'
      } (by name ${round(k8s['by name (1 result)'].p50)}, by service ${round(k8s['by service (10 results)'].p50)}; memory backend ${round(memory['by name (1 result)'].p50)}, ${round(memory['by service (10 results)'].p50)})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await k(['delete', 'namespace', ns, '--wait=false']);
  } finally {
    for (const r of open) await r.close();
    fs.rmSync(sock, { recursive: true, force: true });
    if (owned && envDir) await down(envDir, { keepDir: false });
  }
}

await main();
