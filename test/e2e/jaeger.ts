// A real trace collector for the tracing e2e test: Jaeger (v2, the OpenTelemetry-Collector based
// all-in-one: OTLP receivers, in-memory store, query API), built from the Go module proxy once per
// version into a cache outside the repo, like cluster/ builds Kubernetes. `npm run jaeger` (or the
// test's first run) builds it: a few minutes on 2 cores, milliseconds when the cache is warm.
//
// The sandbox's pods have no network but their NSM interfaces, so the collector runs in a namespace
// of its own with a bridge, and every namespace whose daemon exports spans gets a veth onto it:
//
//   [<id>-otel]  br0 192.168.250.1 ── jaeger (OTLP/HTTP :4318, query :16686)
//      └─ veth ── [node1] 192.168.250.11   └─ veth ── [node2] .12   └─ veth ── [pod] .13 …
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../cluster/exec.js';
import { withLock } from '../../cluster/lock.js';
import { recordNetns } from '../../sdk/tools/sandbox/owned.js';
import { ipBatch, sh } from '../../sdk/tools/sandbox/shell.js';

export const JAEGER_VERSION = 'v1.76.0';
export const JAEGER_CACHE = process.env.NSM_JAEGER_CACHE ?? '/var/cache/nsm-ts/jaeger';
export const JAEGER_BIN = join(JAEGER_CACHE, JAEGER_VERSION, 'jaeger');
const MODULE = 'github.com/jaegertracing/jaeger';
const COLLECTOR_IP = '192.168.250.1';
export const OTLP_ENDPOINT = `http://${COLLECTOR_IP}:4318`;
const READY_TIMEOUT_MS = 30_000;

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE: join(JAEGER_CACHE, 'gomod'),
    GOCACHE: join(JAEGER_CACHE, 'gocache'),
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    CGO_ENABLED: '0',
  };
}

/**
 * Builds the Jaeger binary unless the cache has it. Its module has replace directives, so
 * `go install pkg@version` refuses it: it is built as a tool of a small wrapper module instead.
 */
export async function ensureJaeger(): Promise<string> {
  if (existsSync(JAEGER_BIN)) return JAEGER_BIN;
  mkdirSync(JAEGER_CACHE, { recursive: true });
  await withLock(join(JAEGER_CACHE, 'build.lock'), async () => {
    if (existsSync(JAEGER_BIN)) return;
    const mod = join(JAEGER_CACHE, `mod-${JAEGER_VERSION}`);
    mkdirSync(mod, { recursive: true });
    const env = goEnv();
    if (!existsSync(join(mod, 'go.mod')))
      await run('go', ['mod', 'init', 'nsm-ts/jaeger-build'], { cwd: mod, env });
    await run('go', ['get', '-tool', `${MODULE}/cmd/jaeger@${JAEGER_VERSION}`], { cwd: mod, env });
    await run('go', ['build', '-trimpath', '-o', JAEGER_BIN, `${MODULE}/cmd/jaeger`], { cwd: mod, env });
  });
  return JAEGER_BIN;
}

export interface Collector {
  readonly netns: string;
  /** Gives namespace `netns` a veth onto the collector's bridge (address 192.168.250.<n>). */
  attach(netns: string): Promise<void>;
  /** GET on the query API (path such as /api/traces?service=nsc), from inside the collector's namespace. */
  query<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

export async function startCollector(id: string): Promise<Collector> {
  const bin = await ensureJaeger();
  const netns = `${id}-otel`;
  recordNetns(netns);
  await sh('ip', ['netns', 'add', netns]);
  let proc: ChildProcess | undefined;
  let attached = 0;
  const close = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    await sh('ip', ['netns', 'delete', netns]).catch(() => {});
  };
  try {
    await ipBatch(
      [
        'link set lo up',
        'link add br0 type bridge',
        'link set br0 up',
        `addr add ${COLLECTOR_IP}/24 dev br0`,
      ],
      netns,
    );
    proc = spawn('ip', ['netns', 'exec', netns, bin], {
      env: { PATH: process.env.PATH, JAEGER_LISTEN_HOST: '0.0.0.0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
    });
    const query = async <T>(path: string): Promise<T> => {
      const js = `fetch('http://127.0.0.1:16686${path}').then(async (r) => { if (!r.ok) throw new Error('HTTP ' + r.status); process.stdout.write(await r.text()); })`;
      return JSON.parse(await sh('ip', ['netns', 'exec', netns, process.execPath, '-e', js])) as T;
    };
    // Ready when the query API answers (the receivers start before it).
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`jaeger exited with ${proc.exitCode}: ${log.slice(-2000)}`);
      if (
        await query('/api/services').then(
          () => true,
          () => false,
        )
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`jaeger was not ready within ${READY_TIMEOUT_MS} ms: ${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return {
      netns,
      query,
      close,
      async attach(other: string) {
        const n = ++attached;
        const inside = `${id}o${n}`; // ≤ 15 characters: the id is 9
        await ipBatch([`link add ${inside} netns ${other} type veth peer name ${id}p${n} netns ${netns}`]);
        await ipBatch([`link set ${id}p${n} master br0`, `link set ${id}p${n} up`], netns);
        await ipBatch([`addr add 192.168.250.${10 + n}/24 dev ${inside}`, `link set ${inside} up`], other);
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

if (process.argv[1]?.endsWith('jaeger.js')) {
  ensureJaeger().then(
    (bin) => process.stdout.write(`${bin}\n`),
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exit(1);
    },
  );
}
