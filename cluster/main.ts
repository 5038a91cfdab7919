// nsm-cluster: a local Kubernetes cluster for users and tests (`npm run cluster -- <command>`).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binPath, build } from './build.js';
import { containerdSocket } from './clients.js';
import { DEFAULT_CLUSTER_DIR } from './config.js';
import { down } from './down.js';
import { log } from './exec.js';
import { buildProjectImage, loadImage } from './image.js';
import { readState } from './state.js';
import { printStatus } from './status.js';
import { DEFAULT_TESTENV_DIR, testenvHealthy, testenvUp } from './testenv.js';
import { up } from './up.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run cluster -- <command>   (state dir: $NSM_K8S_CLUSTER_DIR, default ${DEFAULT_CLUSTER_DIR})
  build              build kube-apiserver, kubectl, kubelet, controller-manager, scheduler, kube-proxy,
                     etcd and pause into the cache $NSM_K8S_CACHE (first time 10-25 min on 2 cores)
  up [--nodes N]     start a cluster (builds first if needed); waits until the nodes are Ready. Node 1 runs
                     in the host's network namespace, nodes 2.. each in their own (NSM_K8S_NODES)
  down               stop it and undo every host change it made (processes, mounts, cgroups, iptables,
                     sysctls, bridge); NSM_K8S_KEEP=1 keeps the logs
  status             component PIDs, memory, node readiness, pods
  kubectl ARGS...    kubectl against the cluster
  ctr [--node N] ARGS...
                     ctr against node N's containerd (namespace k8s.io)
  image [--name N] [--out FILE] [--no-load]
                     build the project's OCI image (npm run build first) and load it if a cluster is up
  load IMAGE.tar     import an OCI or docker-archive tar into every node of the cluster
  testenv up|down|status|kubectl ARGS...
                     a control plane only (etcd + kube-apiserver, no nodes, no host changes) in its own
                     state dir $NSM_K8S_TESTENV_DIR (default ${DEFAULT_TESTENV_DIR}); runs beside a cluster
`;

function exec(cmd: string, args: string[]): number {
  return spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 1;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  const dir = DEFAULT_CLUSTER_DIR;
  switch (cmd) {
    case 'build':
      await build();
      return 0;
    case 'up': {
      const nodes = flag(args, '--nodes');
      await up(dir, nodes ? { nodes: Number(nodes) } : {});
      return 0;
    }
    case 'down':
      await down(dir);
      return 0;
    case 'status':
      return (await printStatus(dir)) ? 0 : 1;
    case 'kubectl':
      return exec(binPath('kubectl'), ['--kubeconfig', path.join(dir, 'kubeconfig'), ...args]);
    case 'ctr': {
      // `ctr [--node N] ARGS`: the containerd of node N (default 1)
      const node = flag(args, '--node');
      const rest = node
        ? args.filter((_, i) => i !== args.indexOf('--node') && i !== args.indexOf('--node') + 1)
        : args;
      const nodeDir = readState(dir)?.nodes[Number(node ?? '1') - 1]?.dir;
      if (!nodeDir) throw new Error(`no node ${node ?? '1'} in ${dir}`);
      return exec('ctr', ['-a', containerdSocket(nodeDir), '-n', 'k8s.io', ...rest]);
    }
    case 'image': {
      const img = await buildProjectImage({
        repo: REPO,
        name: flag(args, '--name'),
        out: flag(args, '--out'),
      });
      if (!args.includes('--no-load') && readState(dir)) {
        await loadImage(dir, img.out);
        log(`loaded ${img.name} into the cluster in ${dir}`);
      }
      return 0;
    }
    case 'testenv': {
      const tdir = DEFAULT_TESTENV_DIR;
      const [sub, ...rest] = args;
      if (sub === 'up') await testenvUp(tdir);
      else if (sub === 'down') await down(tdir);
      else if (sub === 'status') {
        const ok = await testenvHealthy(tdir);
        process.stdout.write(`${ok ? 'running' : 'not running'}: KUBECONFIG=${tdir}/kubeconfig\n`);
        return ok ? 0 : 1;
      } else if (sub === 'kubectl')
        return exec(binPath('kubectl'), ['--kubeconfig', path.join(tdir, 'kubeconfig'), ...rest]);
      else break;
      return 0;
    }
    case 'load':
      if (!args[0]) break;
      await loadImage(dir, path.resolve(args[0]));
      return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
