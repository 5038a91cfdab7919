// The CRDs on a real apiserver: upstream-shaped objects apply unchanged, bad specs are refused naming the
// field, `kubectl explain` documents the schema, short names and printer columns work.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { k8sTestsEnabled, REPO, startTestCluster, type TestCluster } from './cluster.js';

/** As in upstream's deployments-k8s examples. */
const UPSTREAM_NS = {
  apiVersion: 'networkservicemesh.io/v1',
  kind: 'NetworkService',
  metadata: { name: 'kernel2kernel' },
  spec: {
    name: 'kernel2kernel',
    payload: 'ETHERNET',
    matches: [
      {
        source_selector: { app: 'client' },
        routes: [{ destination_selector: { app: 'server' }, weight: 10 }],
        fallthrough: true,
        metadata: { labels: { forwarder: 'kernel' } },
      },
      { routes: [{ destination_selector: { role: 'server' } }] },
    ],
  },
};

/** As registry-k8s writes it (Go encoding/json of registry.NetworkServiceEndpoint). */
const UPSTREAM_NSE = {
  apiVersion: 'networkservicemesh.io/v1',
  kind: 'NetworkServiceEndpoint',
  metadata: { name: 'nse-kernel-abc12' },
  spec: {
    name: 'nse-kernel-abc12',
    network_service_names: ['kernel2kernel'],
    network_service_labels: { kernel2kernel: { labels: { app: 'server', nodeName: 'node1' } } },
    url: 'tcp://10.244.0.5:5001',
    expiration_time: { seconds: 1900000000, nanos: 500 },
    initial_registration_time: { seconds: 1800000000 },
    path_ids: ['a1', 'b2'],
  },
};

type Obj = Record<string, unknown>;

function withSpec(base: Obj, name: string, spec: Obj): string {
  return stringify({ ...base, metadata: { name }, spec });
}

describe('networkservicemesh.io CRDs on a real cluster', () => {
  let c: TestCluster;
  const ns = `nsm-crd-${randomBytes(3).toString('hex')}`;
  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    c = await startTestCluster();
    await c.k(['apply', '-k', path.join(REPO, 'deploy', 'crds')]);
    await c.k([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/networkservices.networkservicemesh.io',
      'crd/networkserviceendpoints.networkservicemesh.io',
    ]);
    await c.k(['create', 'namespace', ns]);
  });
  after(async () => {
    if (!c) return;
    await c.kTry(['delete', 'namespace', ns, '--wait=false']);
  });

  it('stores an upstream NetworkService unchanged', async () => {
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(UPSTREAM_NS));
    const got = parse(await c.k(['-n', ns, 'get', 'netsvc', 'kernel2kernel', '-o', 'yaml']));
    assert.deepEqual(got.spec, UPSTREAM_NS.spec);
  });

  it('stores an upstream NetworkServiceEndpoint unchanged and shows services and URL in columns', async () => {
    await c.k(['-n', ns, 'apply', '-f', '-'], stringify(UPSTREAM_NSE));
    const got = parse(await c.k(['-n', ns, 'get', 'nse', 'nse-kernel-abc12', '-o', 'yaml']));
    assert.deepEqual(got.spec, UPSTREAM_NSE.spec);
    const table = await c.k(['-n', ns, 'get', 'nses']);
    assert.match(table, /^NAME\s+SERVICES\s+URL\s+EXPIRES\s+AGE$/m);
    assert.match(
      table,
      /^nse-kernel-abc12\s+\["kernel2kernel"\]\s+tcp:\/\/10\.244\.0\.5:5001\s+1900000000\s/m,
    );
    const nsTable = await c.k(['-n', ns, 'get', 'netsvcs']);
    assert.match(nsTable, /^kernel2kernel\s+ETHERNET\s/m);
  });

  const refused: { name: string; kind: Obj; spec: Obj; field: RegExp }[] = [
    {
      name: 'an unknown payload',
      kind: UPSTREAM_NS,
      spec: { payload: 'BOGUS' },
      field: /spec\.payload: Unsupported value: "BOGUS"/,
    },
    {
      name: 'a weight that is not a number',
      kind: UPSTREAM_NS,
      spec: { matches: [{ routes: [{ weight: 'x' }] }] },
      field: /spec\.matches\[0\]\.routes\[0\]\.weight: Invalid value: "string"/,
    },
    {
      name: 'a negative weight',
      kind: UPSTREAM_NS,
      spec: { matches: [{ routes: [{ weight: -1 }] }] },
      field: /spec\.matches\[0\]\.routes\[0\]\.weight: Invalid value: -1/,
    },
    {
      name: 'a selector value that is not a string',
      kind: UPSTREAM_NS,
      spec: { matches: [{ source_selector: { app: 1 } }] },
      field: /spec\.matches\[0\]\.source_selector\.app: Invalid value: "integer"/,
    },
    {
      name: 'a timestamp with too many nanoseconds',
      kind: UPSTREAM_NSE,
      spec: { expiration_time: { seconds: 1, nanos: 1000000000 } },
      field: /spec\.expiration_time\.nanos: Invalid value: 1000000000/,
    },
    {
      name: 'network_service_names that is not a list',
      kind: UPSTREAM_NSE,
      spec: { network_service_names: 'kernel2kernel' },
      field: /spec\.network_service_names: Invalid value: "string"/,
    },
  ];
  for (const t of refused) {
    it(`refuses ${t.name}, naming the field`, async () => {
      const r = await c.kTry(['-n', ns, 'apply', '-f', '-'], withSpec(t.kind, 'bad', t.spec));
      assert.notEqual(r.code, 0, `apply was accepted: ${r.stdout}`);
      assert.match(r.stderr, t.field);
    });
  }

  it('refuses a field the schema does not know under strict field validation (kubectl default)', async () => {
    const r = await c.kTry(
      ['-n', ns, 'apply', '-f', '-'],
      withSpec(UPSTREAM_NS, 'extra', { payload: 'IP', colour: 'red' }),
    );
    assert.notEqual(r.code, 0, `apply was accepted: ${r.stdout}`);
    assert.match(r.stderr, /unknown field "spec\.colour"/);
  });

  it('drops fields the schema does not know when validation is off, instead of storing them', async () => {
    await c.k(
      ['-n', ns, 'apply', '--validate=false', '-f', '-'],
      withSpec(UPSTREAM_NS, 'extra', { payload: 'IP', colour: 'red' }),
    );
    const got = parse(await c.k(['-n', ns, 'get', 'networkservice', 'extra', '-o', 'yaml']));
    assert.deepEqual(got.spec, { payload: 'IP' });
  });

  it('documents the schema for kubectl explain', async () => {
    const out = await c.k(['explain', 'networkservice.spec.matches']);
    for (const field of ['source_selector', 'routes', 'fallthrough', 'metadata'])
      assert.match(out, new RegExp(`^\\s+${field}\\s`, 'm'));
    const nse = await c.k(['explain', 'nse.spec.network_service_labels']);
    assert.match(nse, /per network service name/);
  });
});
