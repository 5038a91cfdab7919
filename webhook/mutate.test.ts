import * as assert from 'node:assert/strict';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { loadConfig } from '../sdk/tools/config/index.js';
import { webhookSchema } from './config.js';
import { type AdmissionRequest, CONTAINER_NAME, escapePointer, type JsonPatchOp, mutate } from './mutate.js';

const config = loadConfig(webhookSchema, {
  NSM_LABELS: 'spiffe.io/spiffe-id=true',
  NSM_ENVS: 'NSM_LOG_LEVEL=debug',
});

function pod(
  annotations?: Record<string, string>,
  extra: Partial<V1Pod['spec']> = {},
  generateName = 'app-',
): V1Pod {
  return {
    metadata: { generateName, namespace: 'demo', annotations },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...extra },
  };
}

function review(p: V1Pod, operation: AdmissionRequest['operation'] = 'CREATE', namespace = 'demo') {
  return { uid: 'u-1', operation, namespace, object: p };
}

function decoded(patch: string | undefined): JsonPatchOp[] {
  return JSON.parse(Buffer.from(patch ?? '', 'base64').toString('utf8'));
}

function sidecarOf(ops: JsonPatchOp[]): V1Container {
  const op = ops.find((o) => o.path.startsWith('/spec/initContainers'));
  assert.ok(op, 'no initContainers op');
  return (Array.isArray(op.value) ? op.value[0] : op.value) as V1Container;
}

describe('webhook mutate', () => {
  it('injects the client as a native sidecar with the annotation, pod name, socket, resources and labels', () => {
    const r = mutate({ request: review(pod({ 'networkservicemesh.io': 'kernel://icmp/nsm-1' })), config });
    assert.equal(r.response.allowed, true);
    assert.equal(r.response.patchType, 'JSONPatch');
    const ops = decoded(r.response.patch);
    assert.deepEqual(ops, r.patch);
    assert.deepEqual(
      ops.map((o) => `${o.op} ${o.path}`),
      [
        'add /spec/initContainers',
        'add /spec/volumes',
        'add /metadata/labels',
        'add /metadata/annotations/traffic.sidecar.istio.io~1excludeInterfaces',
        'add /metadata/annotations/traffic.sidecar.istio.io~1excludeOutboundPorts',
        'add /metadata/annotations/config.linkerd.io~1skip-outbound-ports',
      ],
    );
    const c = sidecarOf(ops);
    assert.equal(c.name, CONTAINER_NAME);
    assert.equal(c.image, 'nsm-ts.local/nsm:dev');
    assert.deepEqual(c.args, ['dist/examples/k8s/nsc/main.js']);
    assert.equal(c.restartPolicy, 'Always');
    const env = Object.fromEntries(
      (c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
    );
    assert.deepEqual(env, {
      POD_NAME: 'metadata.name',
      NODE_NAME: 'spec.nodeName',
      NSM_LOG_LEVEL: 'debug',
      NSM_NETWORK_SERVICES: 'kernel://icmp/nsm-1',
      NSM_NAME: '$(POD_NAME)',
      NSM_ANNOTATIONS_FILE: '/etc/nsm/podinfo/annotations',
      NSM_ANNOTATION: 'networkservicemesh.io',
    });
    assert.deepEqual(c.resources, {
      limits: { memory: '120Mi', cpu: '200m' },
      requests: { memory: '60Mi', cpu: '50m' },
    });
    assert.deepEqual(c.volumeMounts, [
      { name: 'nsm-socket', mountPath: '/var/lib/networkservicemesh', readOnly: true },
      { name: 'nsm-podinfo', mountPath: '/etc/nsm/podinfo', readOnly: true },
    ]);
    assert.deepEqual(c.startupProbe?.exec?.command, ['sh', '-c', 'ip link show dev nsm-1 >/dev/null']);
    assert.deepEqual(ops[1].value, [
      { name: 'nsm-socket', hostPath: { path: '/var/lib/networkservicemesh', type: 'DirectoryOrCreate' } },
      {
        name: 'nsm-podinfo',
        downwardAPI: { items: [{ path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }] },
      },
    ]);
    assert.deepEqual(ops[2].value, { 'spiffe.io/spiffe-id': 'true' });
  });

  it('waits for every named interface and keeps the annotation verbatim', () => {
    const value = 'kernel://a/nsm-1?app=x, kernel://b@dom/nsm-2,kernel://c';
    const r = mutate({ request: review(pod({ 'networkservicemesh.io': value })), config });
    const c = sidecarOf(r.patch ?? []);
    assert.equal(c.env?.find((e) => e.name === 'NSM_NETWORK_SERVICES')?.value, value);
    assert.deepEqual(c.startupProbe?.exec?.command, [
      'sh',
      '-c',
      'ip link show dev nsm-1 >/dev/null && ip link show dev nsm-2 >/dev/null',
    ]);
  });

  it('appends to existing init containers, volumes and labels instead of replacing them', () => {
    const p = pod(
      { 'networkservicemesh.io': 'kernel://icmp/nsm-1' },
      {
        initContainers: [{ name: 'setup', image: 'x' }],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    );
    p.metadata!.labels = { app: 'a' };
    const ops = mutate({ request: review(p), config }).patch ?? [];
    assert.deepEqual(
      ops.map((o) => `${o.op} ${o.path}`),
      [
        'add /spec/initContainers/0',
        'add /spec/volumes/-',
        'add /spec/volumes/-',
        'add /metadata/labels/spiffe.io~1spiffe-id',
        'add /metadata/annotations/traffic.sidecar.istio.io~1excludeInterfaces',
        'add /metadata/annotations/traffic.sidecar.istio.io~1excludeOutboundPorts',
        'add /metadata/annotations/config.linkerd.io~1skip-outbound-ports',
      ],
    );
  });

  it("takes the namespace's annotation when the pod has none, and the pod's over the namespace's", () => {
    const ns = { 'networkservicemesh.io': 'kernel://from-ns/nsm-1' };
    const inherited = mutate({ request: review(pod()), namespaceAnnotations: ns, config });
    // the downward API has no namespace annotations: no hot-plug for an inherited list
    assert.equal(
      sidecarOf(inherited.patch ?? []).env?.find((e) => e.name === 'NSM_ANNOTATIONS_FILE'),
      undefined,
    );
    assert.equal(
      sidecarOf(inherited.patch ?? []).env?.find((e) => e.name === 'NSM_NETWORK_SERVICES')?.value,
      ns['networkservicemesh.io'],
    );
    const own = mutate({
      request: review(pod({ 'networkservicemesh.io': 'kernel://own/nsm-1' })),
      namespaceAnnotations: ns,
      config,
    });
    assert.equal(
      sidecarOf(own.patch ?? []).env?.find((e) => e.name === 'NSM_NETWORK_SERVICES')?.value,
      'kernel://own/nsm-1',
    );
  });

  it('gives a pod with a fixed name a suffixed NSM_NAME, and mounts the per-node socket directory when asked', () => {
    const cfg = { ...config, socketPerNode: true };
    const p = pod({ 'networkservicemesh.io': 'kernel://icmp/nsm-1' }, {}, '');
    p.metadata!.name = 'fixed';
    const c = sidecarOf(mutate({ request: review(p), config: cfg, suffix: () => 'abc123' }).patch ?? []);
    assert.equal(c.env?.find((e) => e.name === 'NSM_NAME')?.value, '$(POD_NAME)-abc123');
    assert.equal(c.volumeMounts?.[0].subPathExpr, '$(NODE_NAME)');
  });

  it("sets the L7 meshes' exclusion annotations, merged with the pod's own, none for l7=capture", () => {
    const p = pod({
      'networkservicemesh.io': 'kernel://my-vl3/nsm-1,kernel://gw/nsm-2?l7=capture',
      'traffic.sidecar.istio.io/excludeInterfaces': 'eth1',
      'config.linkerd.io/skip-outbound-ports': '9,25',
    });
    const cfg = { ...config, l7ServicePrefixes: { 'my-vl3': ['172.16.0.0/16'], gw: ['10.80.0.0/24'] } };
    const ops = mutate({ request: review(p), config: cfg }).patch ?? [];
    const annotations = Object.fromEntries(
      ops
        .filter((o) => o.path.startsWith('/metadata/annotations/'))
        .map((o) => [o.path.slice('/metadata/annotations/'.length).replace('~1', '/'), o.value]),
    );
    assert.deepEqual(annotations, {
      'traffic.sidecar.istio.io/excludeInterfaces': 'eth1,nsm-1',
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '172.16.0.0/16',
      'traffic.sidecar.istio.io/excludeOutboundPorts': '9',
      'config.linkerd.io/skip-subnets': '172.16.0.0/16',
    });
  });

  it('adds the annotations as a whole map when the NSURLs come from the namespace, and none when switched off', () => {
    const ns = { 'networkservicemesh.io': 'kernel://from-ns/nsm-1' };
    const ops = mutate({ request: review(pod()), namespaceAnnotations: ns, config }).patch ?? [];
    assert.deepEqual(ops.find((o) => o.path === '/metadata/annotations')?.value, {
      'traffic.sidecar.istio.io/excludeInterfaces': 'nsm-1',
      'traffic.sidecar.istio.io/excludeOutboundPorts': '9',
      'config.linkerd.io/skip-outbound-ports': '9',
    });
    const off = mutate({
      request: review(pod()),
      namespaceAnnotations: ns,
      config: { ...config, l7Annotations: false },
    });
    assert.equal(
      (off.patch ?? []).some((o) => o.path.startsWith('/metadata/annotations')),
      false,
    );
  });

  it('denies an NSURL with an unknown l7 value', () => {
    const r = mutate({
      request: review(pod({ 'networkservicemesh.io': 'kernel://a/nsm-1?l7=sidecar' })),
      config,
    });
    assert.equal(r.response.allowed, false);
    assert.match(
      r.response.status?.message ?? '',
      /annotation networkservicemesh.io of the pod: .*l7="sidecar"/,
    );
  });

  const untouched: { name: string; request: AdmissionRequest; ns?: Record<string, string> }[] = [
    { name: 'a pod without the annotation', request: review(pod()) },
    { name: 'a pod with an empty annotation', request: review(pod({ 'networkservicemesh.io': ' ' })) },
    {
      name: 'a pod in an excluded namespace',
      request: review(pod({ 'networkservicemesh.io': 'kernel://icmp/nsm-1' }), 'CREATE', 'kube-system'),
    },
    {
      name: 'an UPDATE (containers are immutable)',
      request: review(pod({ 'networkservicemesh.io': 'kernel://icmp/nsm-1' }), 'UPDATE'),
    },
    {
      name: 'a pod that already has the client',
      request: review(
        pod(
          { 'networkservicemesh.io': 'kernel://icmp/nsm-1' },
          { initContainers: [{ name: CONTAINER_NAME }] },
        ),
      ),
    },
    { name: 'a DELETE', request: { uid: 'u-1', operation: 'DELETE', namespace: 'demo' } },
  ];
  for (const t of untouched) {
    it(`allows ${t.name} without a patch`, () => {
      const r = mutate({ request: t.request, namespaceAnnotations: t.ns, config });
      assert.deepEqual(r.response, { uid: 'u-1', allowed: true });
    });
  }

  const denied: {
    name: string;
    value: string;
    onNamespace?: boolean;
    op?: 'CREATE' | 'UPDATE';
    message: RegExp;
  }[] = [
    {
      name: 'an NSURL without a scheme',
      value: 'icmp-responder/nsm-1',
      message:
        /^annotation networkservicemesh\.io of the pod: failed to parse NSURL "icmp-responder\/nsm-1": no mechanism scheme/,
    },
    {
      name: 'an interface name over 15 characters',
      value: 'kernel://icmp/nsm-1,kernel://icmp/a-very-long-interface',
      message:
        /failed to parse NSURL "kernel:\/\/icmp\/a-very-long-interface": interface name "a-very-long-interface" is longer than 15/,
    },
    {
      name: 'a port in the authority',
      value: 'kernel://icmp:80/nsm-1',
      message: /NSURL "kernel:\/\/icmp:80\/nsm-1": ports and passwords are not allowed/,
    },
    {
      name: 'a bad namespace annotation, naming the namespace',
      value: 'kernel://bad service/nsm-1',
      onNamespace: true,
      message:
        /^annotation networkservicemesh\.io of the namespace demo: failed to parse NSURL "kernel:\/\/bad service\/nsm-1"/,
    },
    {
      name: 'a bad annotation set by an UPDATE (hot-plug)',
      value: 'kernel://icmp/nsm-1?=x',
      op: 'UPDATE',
      message: /NSURL "kernel:\/\/icmp\/nsm-1\?=x": empty label key/,
    },
  ];
  for (const t of denied) {
    it(`denies ${t.name}`, () => {
      const ann = { 'networkservicemesh.io': t.value };
      const r = mutate({
        request: review(pod(t.onNamespace ? undefined : ann), t.op ?? 'CREATE'),
        namespaceAnnotations: t.onNamespace ? ann : undefined,
        config,
      });
      assert.equal(r.response.allowed, false);
      assert.equal(r.response.patch, undefined);
      assert.equal(r.response.status?.code, 400);
      assert.match(r.response.status?.message ?? '', t.message);
    });
  }

  it('escapes JSON pointer segments', () => {
    assert.equal(escapePointer('a/b~c'), 'a~1b~0c');
  });
});
