// The mesh deployed on the test cluster, shared by the k8s mesh test files: `kubectl apply -k` of
// deploy/overlays/<NSM_K8S_OVERLAY> (k8s, the registry on the CRDs, unless set; `memory` for the
// in-memory registry), rolled out once per run, plus helpers to make annotated pods and look inside them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { PROJECT_IMAGE } from '../../cluster/config.js';
import { projectImage, REPO, type TestCluster } from './cluster.js';

export const OVERLAY = process.env.NSM_K8S_OVERLAY ?? 'k8s';
export const ANNOTATION = 'networkservicemesh.io';
/** The example endpoint's pool: its side of every connection has an address from it. */
export const ENDPOINT_CIDR = '172.16.1.0/24';
/** The apps' TCP echo port (examples/k8s/basic/client.yaml). */
export const ECHO_PORT = 7777;
/** A script for an app container: an echo server on ECHO_PORT; prints whether nsm-1 was there at start. */
export const ECHO_APP = [
  "console.log('nsm-1 at start:', require('node:fs').existsSync('/sys/class/net/nsm-1'));",
  `require('node:net').createServer((s) => s.pipe(s)).listen(${ECHO_PORT});`,
].join('\n');

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let deployed: Promise<void> | undefined;

/** Applies the overlay and waits until every component is rolled out and the webhook is registered. */
export function deployMesh(c: TestCluster): Promise<void> {
  deployed ??= (async () => {
    await projectImage(c);
    await c.k(['apply', '-k', path.join(REPO, 'deploy', 'overlays', OVERLAY)]);
    // A reused cluster may run pods of an older image with the same tag: restart them, in the order the
    // components depend on each other (the registry first: nsmgrs register forwarders through it, and a
    // forwarder whose registration times out exits and restarts with the kubelet's backoff).
    for (const w of ['deploy/registry', 'ds/nsmgr', 'ds/forwarder', 'deploy/admission-webhook']) {
      await c.k(['-n', 'nsm-system', 'rollout', 'restart', w]);
      await c.k(['-n', 'nsm-system', 'rollout', 'status', '--timeout=180s', w]);
    }
    await waitFor('the MutatingWebhookConfiguration', async () =>
      (await c.kTry(['get', 'mutatingwebhookconfiguration', 'nsm-admission-webhook'])).code === 0
        ? true
        : undefined,
    );
  })();
  return deployed;
}

export async function createNamespace(c: TestCluster, name: string, annotations?: Record<string, string>) {
  await c.k(
    ['apply', '-f', '-'],
    stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } }),
  );
  await waitFor(`serviceaccount default in ${name}`, async () =>
    (await c.kTry(['-n', name, 'get', 'serviceaccount', 'default'])).code === 0 ? true : undefined,
  );
}

/**
 * The example endpoint (examples/k8s/basic/icmp-responder.yaml), pinned to a node and serving `service`
 * instead of icmp-responder: the registry is cluster-wide, and an example endpoint left running must not
 * answer the tests' clients.
 */
export async function deployEndpoint(
  c: TestCluster,
  ns: string,
  nodeName: string,
  service: string,
): Promise<string> {
  const file = path.join(REPO, 'examples', 'k8s', 'basic', 'icmp-responder.yaml');
  const d = parse(fs.readFileSync(file, 'utf8'));
  d.spec.template.spec.nodeName = nodeName;
  const env: { name: string; value?: string }[] = d.spec.template.spec.containers[0].env;
  env.find((e) => e.name === 'NSM_SERVICE_NAMES')!.value = service;
  await c.k(['-n', ns, 'apply', '-f', '-'], stringify(d));
  await c.k(['-n', ns, 'rollout', 'status', '--timeout=120s', `deploy/${d.metadata.name}`]);
  return (
    await c.k([
      '-n',
      ns,
      'get',
      'pod',
      '-l',
      `app=${d.metadata.labels.app}`,
      '-o',
      'jsonpath={.items[0].metadata.name}',
    ])
  ).trim();
}

export function clientPod(name: string, nodeName: string, annotation?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { app: name },
      annotations: annotation ? { [ANNOTATION]: annotation } : undefined,
    },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 10,
      containers: [{ name: 'app', image: PROJECT_IMAGE, imagePullPolicy: 'Never', args: ['-e', ECHO_APP] }],
    },
  };
}

export interface Addresses {
  /** The client's nsm-1 address and the endpoint's side, without prefix length. */
  client: string;
  endpoint: string;
}

/** The connection the injected client printed (its first JSON line). */
export async function connectionOf(c: TestCluster, ns: string, pod: string): Promise<Addresses> {
  return waitFor(`the connection of ${pod}`, async () => {
    const logs = await c.k(['-n', ns, 'logs', pod, '-c', 'nsm-nsc']);
    const line = logs.split('\n').find((l) => l.startsWith('{"connection"'));
    if (!line) return undefined;
    const ip = JSON.parse(line).connection.context.ipContext;
    return { client: ip.srcIpAddrs[0].split('/')[0], endpoint: ip.dstIpAddrs[0].split('/')[0] };
  });
}

/** Runs a node script in a container; returns its stdout. */
export function execNode(c: TestCluster, ns: string, pod: string, container: string, script: string) {
  return c.k(['-n', ns, 'exec', pod, '-c', container, '--', 'node', '-e', script]);
}

/** TCP to the endpoint's address, port 9: nothing listens, so the kernel's RST proves the round trip. */
export function probeScript(host: string, durationMs: number, intervalMs: number): string {
  return `
const net = require('node:net');
let ok = 0, lost = 0;
const start = Date.now(), lostAt = [];
const end = start + ${durationMs};
function once() {
  return new Promise((done) => {
    const s = net.connect({ host: '${host}', port: 9 });
    const sent = Date.now();
    const t = setTimeout(() => { s.destroy(); lost++; lostAt.push(sent - start); done(); }, 500);
    const answered = () => { clearTimeout(t); s.destroy(); ok++; done(); };
    s.on('connect', answered);
    s.on('error', (e) => (e.code === 'ECONNREFUSED' ? answered() : (clearTimeout(t), lost++, lostAt.push(sent - start), done())));
  });
}
(async () => {
  while (Date.now() < end) { await once(); await new Promise((r) => setTimeout(r, ${intervalMs})); }
  console.log(JSON.stringify({ ok, lost, lostAt, start }));
})();`;
}

/** Sends "ping" to host:ECHO_PORT and returns what came back. */
export function echoScript(host: string): string {
  return `
const s = require('node:net').connect(${ECHO_PORT}, '${host}', () => s.end('ping'));
let got = '';
s.setTimeout(3000, () => { console.log('timeout'); s.destroy(); });
s.on('data', (d) => (got += d));
s.on('end', () => console.log(got));
s.on('error', (e) => console.log(e.code));`;
}

/** The endpoint pod's addresses from ENDPOINT_CIDR (one per connection). */
export async function endpointAddresses(c: TestCluster, ns: string, pod: string): Promise<string[]> {
  const out = await c.k(['-n', ns, 'exec', pod, '--', 'ip', '-4', '-o', 'addr', 'show']);
  return [...out.matchAll(/inet (172\.16\.1\.\d+)\//g)].map((m) => m[1]);
}
