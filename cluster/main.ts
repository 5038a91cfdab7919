// nsm-cluster: a local Kubernetes cluster for users and tests (`npm run cluster -- <command>`).
import { build } from './build.js';
import { log } from './exec.js';

const USAGE = `usage: npm run cluster -- <command>
  build             build kubelet, kube-apiserver, kubectl, controller-manager, scheduler, etcd and pause
                    into the cache (first time 10-25 min on 2 cores; a no-op when warm)
`;

async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  switch (cmd) {
    case 'build':
      await build();
      return 0;
    default:
      process.stderr.write(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
