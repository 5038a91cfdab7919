// `testenv`: a control plane only (etcd + kube-apiserver, envtest-like), for code that needs the Kubernetes
// API and nothing that runs pods: the registry's k8s backend, CRD round trips. It changes nothing on the
// host outside its directory (no kubelet, kube-proxy, containerd, iptables or sysctls), so it runs beside a
// full cluster of `up` on the same machine; its ports are picked free at start like `up`'s. Teardown is
// `down` on its directory (the state has no nodes, so `down` only stops the two daemons).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binPath, missingBinaries } from './build.js';
import { kubectl } from './clients.js';
import { K8S_VERSION, SERVICE_CIDR } from './config.js';
import { down } from './down.js';
import { log, waitFor } from './exec.js';
import { generatePki, writeKubeconfig } from './pki.js';
import { type ClusterState, owned, readState, runningPids, startDaemon, writeState } from './state.js';
import { freePorts } from './up.js';

/** Default state directory of `testenv` (never the full cluster's). */
export const DEFAULT_TESTENV_DIR = path.resolve(process.env.NSM_K8S_TESTENV_DIR ?? '/var/lib/nsm-ts/testenv');

const APISERVER_TIMEOUT_MS = 90_000;

export async function testenvUp(dirArg: string): Promise<ClusterState> {
  const t0 = Date.now();
  const dir = path.resolve(dirArg);
  const old = readState(dir);
  if (old && runningPids(old).length > 0) throw new Error(`${dir} already holds a running control plane`);
  if (old) await down(dir, { keepDir: false });
  const missing = missingBinaries().filter((b) => ['etcd', 'kube-apiserver', 'kubectl'].includes(b));
  if (missing.length > 0)
    throw new Error(`missing ${missing.join(', ')}: run npm run cluster -- build first`);
  // DIR's parent goes again on down when we create it (as `up` does)
  const created = [path.dirname(dir)].filter((p) => !fs.existsSync(p));
  for (const d of ['run', 'logs', 'etcd']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'etcd'), 0o700);
  const [etcd, etcdPeer, apiserver] = await freePorts(3);
  const s: ClusterState = {
    dir,
    k8sVersion: K8S_VERSION,
    serviceCidr: SERVICE_CIDR,
    clusterCidr: '',
    ports: { etcd, etcdPeer, apiserver },
    // nothing else on the host to restore: `down` only stops the recorded daemons and removes DIR
    sysctls: {},
    iptablesChains: {},
    createdPaths: created,
    pids: {},
    nodes: [],
  };
  writeState(s);
  try {
    const pki = await generatePki({ dir, nodeNames: [], ips: [] });
    writeKubeconfig(dir, 'admin', `https://127.0.0.1:${apiserver}`);
    const etcdUrl = `http://127.0.0.1:${etcd}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    startDaemon({
      state: s,
      pids: s.pids,
      name: 'etcd',
      logName: 'etcd',
      cmd: binPath('etcd'),
      args: [
        '--name=nsm-testenv',
        `--data-dir=${dir}/etcd`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=nsm-testenv=${peerUrl}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
    });
    await waitFor('etcd /health', 30_000, async () => {
      const r = await fetch(`${etcdUrl}/health`);
      return ((await r.json()) as { health?: string }).health === 'true';
    });
    startDaemon({
      state: s,
      pids: s.pids,
      name: 'kube-apiserver',
      logName: 'kube-apiserver',
      cmd: binPath('kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiserver}`,
        // no default route needed: no endpoint reconciler for the kubernetes Service
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        `--cert-dir=${pki}`,
        `--tls-cert-file=${pki}/apiserver.crt`,
        `--tls-private-key-file=${pki}/apiserver.key`,
        `--client-ca-file=${pki}/ca.crt`,
        `--token-auth-file=${pki}/tokens.csv`,
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki}/sa.pub`,
        `--service-account-signing-key-file=${pki}/sa.key`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--profiling=false',
      ],
    });
    await waitFor('kube-apiserver /readyz and the default namespace', APISERVER_TIMEOUT_MS, async () => {
      // readyz includes the RBAC bootstrap roles, which come a moment after the namespaces
      if ((await kubectl(dir, ['get', '--raw=/readyz'])).code !== 0) return false;
      return (await kubectl(dir, ['get', 'namespace', 'default'])).code === 0;
    });
  } catch (err) {
    log(`testenv up failed: ${(err as Error).message}; tearing down (logs kept in ${dir}/logs)`);
    await down(dir, { keepDir: true });
    throw err;
  }
  log(
    `control plane ${K8S_VERSION} up in ${((Date.now() - t0) / 1000).toFixed(1)}s: KUBECONFIG=${dir}/kubeconfig`,
  );
  return s;
}

/** True when DIR holds a control plane whose etcd and apiserver run and answer. */
export async function testenvHealthy(dir: string): Promise<boolean> {
  const s = readState(dir);
  if (!s || !owned(s.dir, s.pids.etcd) || !owned(s.dir, s.pids['kube-apiserver'])) return false;
  return (await kubectl(dir, ['get', '--raw=/readyz'])).code === 0;
}
