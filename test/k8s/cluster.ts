// The cluster a k8s test file runs against: the one NSM_K8S_CLUSTER_DIR names when it is up and Ready
// (developers keep one running between runs), otherwise a fresh one in a temporary directory that `close`
// tears down again. Tests run only under `npm run test:k8s` (NSM_K8S_TEST=1): they need root, the
// Kubernetes build (10-25 min the first time) and change host state while they run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl } from '../../cluster/clients.js';
import { down } from '../../cluster/down.js';
import { buildProjectImage, loadImage } from '../../cluster/image.js';
import { readState, runningPids } from '../../cluster/state.js';
import { status } from '../../cluster/status.js';
import { up } from '../../cluster/up.js';
import { recordRunScopedProcess } from '../../sdk/tools/sandbox/owned.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function k8sTestsEnabled(): boolean {
  return process.env.NSM_K8S_TEST === '1';
}

export interface TestCluster {
  dir: string;
  /** kubectl; throws with the command's stderr when it fails. */
  k(args: string[], input?: string): Promise<string>;
  /** kubectl returning the exit code and output, for commands expected to fail. */
  kTry(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

let shared: Promise<TestCluster> | undefined;
let image: Promise<string> | undefined;

/** The project image (built from this checkout's dist/), loaded into every node once per run; its name. */
export function projectImage(c: TestCluster): Promise<string> {
  image ??= buildProjectImage({ repo: REPO }).then(async (img) => {
    await loadImage(c.dir, img.out);
    return img.name;
  });
  return image;
}

/** One cluster for every k8s test file of the run, torn down by the root `after` below (also on failure). */
export function startTestCluster(): Promise<TestCluster> {
  shared ??= startCluster();
  return shared;
}

after(async () => {
  const c = await shared?.catch(() => undefined);
  shared = undefined;
  image = undefined;
  await c?.close();
});

async function startCluster(): Promise<TestCluster> {
  let dir = process.env.NSM_K8S_CLUSTER_DIR;
  let owned = false;
  const reuse = dir ? await status(dir) : undefined;
  if (!dir || !reuse?.healthy) {
    dir = fs.mkdtempSync('/tmp/nsmk-');
    owned = true;
    // two nodes: the second, in its own network namespace, gives the remote (VXLAN) path a real link
    await up(dir, { nodes: Number(process.env.NSM_K8S_NODES ?? '2') });
    // The cluster serves every k8s file of the run: the per-file leak check must not take it down.
    const state = readState(dir);
    for (const [, pid] of state ? runningPids(state) : []) recordRunScopedProcess(pid);
  }
  const d = dir;
  // Ctrl-C or a CI timeout must not leave a cluster (daemons are detached and would outlive mocha)
  const onSignal = (signal: NodeJS.Signals) => {
    void down(d, { keepDir: false }).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  if (owned) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const kTry = (args: string[], input?: string) => kubectl(d, args, input);
  return {
    dir: d,
    kTry,
    async k(args, input) {
      const r = await kTry(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
      return r.stdout;
    },
    async close() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (owned) await down(d, { keepDir: process.env.NSM_K8S_KEEP === '1' });
    },
  };
}
