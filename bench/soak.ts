// `npm run soak` (as root, not part of `npm test`): holds the sandbox mesh under refresh and
// request/close churn for a long time at a short token lifetime, samples the resident memory of
// every daemon, and says whether any of them keeps growing. Writes bench/results/soak.{json,md}.
//
// The mesh: registry, nsmgr and forwarder on two nodes, two icmp-responder endpoints on node2,
// long-lived example clients (real nsc processes, refreshing on their own) on both nodes, and a
// churn client in this process that requests and closes connections from a few pod namespaces.
// Growth is judged per daemon: the median RSS of the last sampling minute against the median of
// the minute ending at WARMUP_MINUTES (V8 and the kernel caches settle in the first minutes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Daemon, Pod } from '../sdk/tools/sandbox/sandbox.js';
import { Mesh, SERVICE } from './mesh.js';
import { sweepNetns } from './netns.js';
import { sampleProc } from './procstat.js';

const WARMUP_MINUTES = 5;
/** Allowed growth of the end-of-run RSS over the post-warm-up RSS. */
const MAX_GROWTH = 0.1;
const CHURN_PODS = 4;
const LONG_LIVED_CLIENTS_PER_NODE = 2;

const USAGE = `usage: npm run soak -- [--minutes N] [--lifetime DURATION] [--sample-seconds N] [--churn-per-second N]
  --minutes           how long to run (default 60)
  --lifetime          NSM_MAX_TOKEN_LIFETIME of every daemon and client (default 10s)
  --sample-seconds    how often to sample each daemon's RSS (default 10)
  --churn-per-second  request/close cycles per second from the churn client (default 2)`;

interface Options {
  minutes: number;
  lifetime: string;
  sampleSeconds: number;
  churnPerSecond: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '60' },
      lifetime: { type: 'string', default: '10s' },
      'sample-seconds': { type: 'string', default: '10' },
      'churn-per-second': { type: 'string', default: '2' },
    },
  });
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${v}" is not a positive number`);
    return n;
  };
  return {
    minutes: num('minutes', values.minutes),
    lifetime: values.lifetime ?? '10s',
    sampleSeconds: num('sample-seconds', values['sample-seconds']),
    churnPerSecond: num('churn-per-second', values['churn-per-second']),
  };
}

interface Sample {
  atS: number;
  rssMiB: number;
}

interface DaemonSeries {
  name: string;
  samples: Sample[];
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median RSS of the samples taken in the minute ending at `endS`. */
function minuteMedian(samples: Sample[], endS: number): number {
  return median(samples.filter((s) => s.atS > endS - 60 && s.atS <= endS).map((s) => s.rssMiB));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`soak: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('soak: run as root (it creates network namespaces)\n');
    return 2;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const mesh = await Mesh.start({ endpoints: 2, env: { NSM_MAX_TOKEN_LIFETIME: opts.lifetime } });
  let stopping = false;
  const onSignal = () => {
    stopping = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const churnErrors: string[] = [];
  let churnCycles = 0;
  try {
    const clients: Daemon[] = [];
    for (const node of [mesh.node1, mesh.node2]) {
      for (let i = 0; i < LONG_LIVED_CLIENTS_PER_NODE; i++) {
        const pod: Pod = await mesh.sb.addPod(node, `soak-${node.name}-${i}`);
        const { daemon } = await mesh.sb.startClient(pod, `kernel://${SERVICE}/nsm-1`, {
          NSM_MAX_TOKEN_LIFETIME: opts.lifetime,
        });
        clients.push(daemon);
      }
    }
    const churnPods = await mesh.pods(mesh.node1, 'churn', CHURN_PODS);
    const watched: Daemon[] = [
      ...(mesh.sb.registry ? [mesh.sb.registry] : []),
      ...mesh.sb.nodes.flatMap((n) => [n.nsmgr, n.forwarder].filter((d): d is Daemon => d !== undefined)),
      ...mesh.endpointDaemons.values(),
      ...clients,
    ];
    const series: DaemonSeries[] = watched.map((d) => ({ name: d.name, samples: [] }));
    say(`soak: ${opts.minutes} min, token lifetime ${opts.lifetime}, ${watched.length} daemons watched`);

    const started = Date.now();
    const endAt = started + opts.minutes * 60_000;
    const churn = (async () => {
      const client = mesh.client(mesh.node1);
      const gapMs = 1000 / opts.churnPerSecond;
      for (let i = 0; !stopping && Date.now() < endAt; i++) {
        const netns = churnPods[i % churnPods.length];
        try {
          const { value } = await client.request({ id: mesh.nextId('soak'), netns, service: SERVICE });
          await client.close(value);
          churnCycles++;
        } catch (e) {
          if (churnErrors.length < 20) churnErrors.push((e as Error).message);
        }
        await sleep(gapMs);
      }
    })();

    let nextReport = started + 60_000;
    while (!stopping && Date.now() < endAt) {
      const atS = (Date.now() - started) / 1000;
      watched.forEach((d, i) => {
        const s = sampleProc(d.pid);
        if (s) series[i].samples.push({ atS, rssMiB: s.rssMiB });
      });
      if (Date.now() >= nextReport) {
        nextReport += 60_000;
        const minute = Math.round(atS / 60);
        say(
          `  min ${minute}: ${series.map((s) => `${s.name} ${minuteMedian(s.samples, atS).toFixed(1)}`).join(', ')} MiB; churn ${churnCycles} cycles, ${churnErrors.length} errors`,
        );
      }
      await sleep(opts.sampleSeconds * 1000);
    }
    await churn;

    const totalS = (Date.now() - started) / 1000;
    const warmS = Math.min(WARMUP_MINUTES * 60, totalS / 2);
    const rows = series.map((s) => {
      const warm = minuteMedian(s.samples, warmS);
      const end = minuteMedian(s.samples, totalS);
      const growth = (end - warm) / warm;
      return { name: s.name, warmMiB: warm, endMiB: end, growth, ok: growth <= MAX_GROWTH };
    });
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'soak.json'),
      `${JSON.stringify({ opts, totalS, churnCycles, churnErrors, rows, series }, null, 1)}\n`,
    );
    const md = [
      `# Soak: ${(totalS / 60).toFixed(1)} min at token lifetime ${opts.lifetime}`,
      '',
      `Churn: ${churnCycles} request/close cycles, ${churnErrors.length} errors${churnErrors.length ? ` (first: ${churnErrors[0]})` : ''}.`,
      `RSS is the median over one minute of samples every ${opts.sampleSeconds} s; "after warm-up" is the minute ending at ${(warmS / 60).toFixed(1)} min.`,
      '',
      '| daemon | RSS after warm-up (MiB) | RSS at end (MiB) | growth | within 10% |',
      '|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.warmMiB.toFixed(1)} | ${r.endMiB.toFixed(1)} | ${(r.growth * 100).toFixed(1)}% | ${r.ok ? 'yes' : 'NO'} |`,
      ),
      '',
    ].join('\n');
    writeFileSync(join(dir, 'soak.md'), md);
    say(md);
    return rows.every((r) => r.ok) && churnErrors.length === 0 ? 0 : 1;
  } finally {
    await mesh.close();
    await sweepNetns(mesh.sb.id);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
