// `npm run bench` (as root): builds the sandbox mesh, runs the parts, and writes
// bench/results/latest.json and latest.md. See bench/README.md for what each figure means.
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchContext, Part } from './context.js';
import { Mesh } from './mesh.js';
import { nodeState, sweepNetns } from './netns.js';
import { parseOptions, USAGE } from './options.js';
import { runChain } from './parts/chain.js';
import { runCni } from './parts/cni.js';
import { runConcurrency } from './parts/concurrency.js';
import { runDataplane } from './parts/dataplane.js';
import { runHeal } from './parts/heal.js';
import { runL7 } from './parts/l7.js';
import { runLatency } from './parts/latency.js';
import { runObservability } from './parts/observability.js';
import { runScale } from './parts/scale.js';
import { runVl3 } from './parts/vl3.js';
import { killAll } from './proc.js';
import { snapshot, writeResults } from './report.js';
import { ensureTools } from './tools.js';

const RUNNERS: Record<Part, (ctx: BenchContext) => Promise<void>> = {
  latency: runLatency,
  cni: runCni,
  concurrency: runConcurrency,
  scale: runScale,
  dataplane: runDataplane,
  heal: runHeal,
  chain: runChain,
  l7: runL7,
  observability: runObservability,
  vl3: runVl3,
};
/** Parts that need no mesh. */
const MESHLESS: readonly Part[] = ['cni', 'observability'];

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === 'help') {
    say(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: run as root (it creates network namespaces)\n');
    return 2;
  }
  const started = Date.now();
  const problem = await ensureTools(opts.only, opts.install, say);
  if (problem) {
    process.stderr.write(`${problem}\n`);
    return 2;
  }

  const ctx: BenchContext = { opts, data: { loadAtStart: loadavg()[0] }, errors: [], log: say };
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      killAll();
      await ctx.mesh?.close().catch((e: unknown) => say(`cleanup: ${(e as Error).message}`));
      await sweepNetns(ctx.mesh?.sb.id).catch(() => undefined);
    })();
    return cleaning;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    say(`\n${sig}: stopping and cleaning up ...`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  mkdirSync(opts.outDir, { recursive: true });
  const logDir = join(opts.outDir, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  const env: Record<string, string> = { ...opts.daemonEnv };
  if (opts.profile) {
    const profDir = join(opts.outDir, 'profiles');
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    env.NODE_OPTIONS = `--import=${pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'cpu-profile-hook.js')).href}`;
    env.NSM_BENCH_PROFILE_DIR = profDir;
  }

  try {
    if (opts.only.some((p) => !MESHLESS.includes(p))) {
      say(
        `starting the mesh: 2 nodes, registry, nsmgr + forwarder per node (${opts.layout === 'nodeagent' ? 'one process' : 'two processes'}), ${opts.endpoints} endpoints ...`,
      );
      ctx.mesh = await Mesh.start({
        endpoints: opts.endpoints,
        env,
        logDir,
        nodeagent: opts.layout === 'nodeagent',
      });
      say(`  sandbox ${ctx.mesh.sb.id}, daemon logs in ${logDir}`);
      ctx.data.startup = snapshot(ctx.mesh, 'after start-up', 0);
    }
    for (const part of opts.only) {
      const t0 = Date.now();
      ctx.data.nodeState ??= {};
      ctx.data.nodeState[part] = nodeState();
      try {
        await RUNNERS[part](ctx);
      } catch (e) {
        const msg = `${part}: ${e instanceof Error ? e.message : String(e)}`;
        ctx.errors.push(msg);
        say(`  FAILED ${msg}`);
      }
      say(`  (${part} took ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await cleanup();
  }
  const files = await writeResults(ctx, (Date.now() - started) / 1000);
  say(`\nwrote ${files.join(' and ')}`);
  return 0;
}

process.exitCode = await main();
