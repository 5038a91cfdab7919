// kubectl and ctr pointed at one cluster directory.
import * as path from 'node:path';
import { binPath } from './build.js';
import { type RunResult, run } from './exec.js';

const KUBECTL_TIMEOUT = '--request-timeout=10s';

export function kubectl(dir: string, args: string[], input?: string): Promise<RunResult> {
  return run(binPath('kubectl'), ['--kubeconfig', path.join(dir, 'kubeconfig'), KUBECTL_TIMEOUT, ...args], {
    input,
    allowFail: true,
  });
}

/** containerd's socket in a node's directory. */
export function containerdSocket(nodeDir: string): string {
  return path.join(nodeDir, 'containerd', 'containerd.sock');
}

export function ctr(nodeDir: string, args: string[]): Promise<RunResult> {
  return run('ctr', ['-a', containerdSocket(nodeDir), '-n', 'k8s.io', ...args], { allowFail: true });
}
