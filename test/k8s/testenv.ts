// A control plane only (etcd + kube-apiserver, cluster/testenv.ts) for k8s tests that need the API but no
// pods: the one NSM_K8S_TESTENV_DIR names when it runs (kept between runs by developers), otherwise a fresh
// one in a temporary directory, torn down by the root `after` below. It runs beside a full cluster.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { kubectl } from '../../cluster/clients.js';
import { down } from '../../cluster/down.js';
import { testenvHealthy } from '../../cluster/testenv.js';
import { REPO } from './cluster.js';

export interface TestEnv {
  dir: string;
  kubeconfig: string;
  /** kubectl; throws with the command's stderr when it fails. */
  k(args: string[], input?: string): Promise<string>;
}

let shared: Promise<{ env: TestEnv; owned: boolean }> | undefined;

async function start(): Promise<{ env: TestEnv; owned: boolean }> {
  let dir = process.env.NSM_K8S_TESTENV_DIR;
  let owned = false;
  if (!dir || !(await testenvHealthy(dir))) {
    dir = fs.mkdtempSync('/tmp/nsmt-');
    owned = true;
    // Through the CLI, which exits after starting them: etcd and the apiserver are then no descendants of
    // this test process, which a per-file leak check would count as left behind (they serve every file).
    await promisify(execFile)(
      process.execPath,
      [path.join(REPO, 'dist', 'cluster', 'main.js'), 'testenv', 'up'],
      {
        env: { ...process.env, NSM_K8S_TESTENV_DIR: dir },
      },
    );
  }
  const d = dir;
  const k = async (args: string[], input?: string) => {
    const r = await kubectl(d, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout;
  };
  await k(['apply', '-k', path.join(REPO, 'deploy', 'crds')]);
  await k([
    'wait',
    '--for=condition=Established',
    'crd/networkservices.networkservicemesh.io',
    'crd/networkserviceendpoints.networkservicemesh.io',
  ]);
  return { env: { dir: d, kubeconfig: path.join(d, 'kubeconfig'), k }, owned };
}

/** The control plane with the networkservicemesh.io CRDs established. */
export async function startTestEnv(): Promise<TestEnv> {
  shared ??= start();
  return (await shared).env;
}

after(async () => {
  const s = await shared?.catch(() => undefined);
  shared = undefined;
  if (s?.owned) await down(s.env.dir, { keepDir: process.env.NSM_K8S_KEEP === '1' });
});
