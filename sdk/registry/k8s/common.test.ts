import assert from 'node:assert/strict';
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { newerVersion, nseFromCr, nseToSpec, nsFromCr, nsToSpec, objectName } from './common.js';

describe('k8s objects', () => {
  it('writes an endpoint as upstream does and reads it back', () => {
    const item = NetworkServiceEndpoint.fromPartial({
      name: 'nse-kernel-abc12',
      networkServiceNames: ['kernel2kernel'],
      networkServiceLabels: { kernel2kernel: { labels: { app: 'server', nodeName: 'node1' } } },
      url: 'tcp://10.244.0.5:5001',
      expirationTime: new Date(1900000000_123),
      initialRegistrationTime: new Date(1800000000_000),
      pathIds: ['a1'],
    });
    const spec = nseToSpec(item);
    assert.deepEqual(spec, {
      name: 'nse-kernel-abc12',
      network_service_names: ['kernel2kernel'],
      // label keys are data, not field names: never re-cased
      network_service_labels: { kernel2kernel: { labels: { app: 'server', nodeName: 'node1' } } },
      url: 'tcp://10.244.0.5:5001',
      expiration_time: { seconds: 1900000000, nanos: 123_000_000 },
      initial_registration_time: { seconds: 1800000000 },
      path_ids: ['a1'],
    });
    assert.deepEqual(nseFromCr({ metadata: { name: 'x' }, spec }), item);
  });

  it('takes the name from metadata when spec.name is empty, and tolerates a sparse spec', () => {
    const got = nseFromCr({ metadata: { name: 'from-kubectl' }, spec: { url: 'tcp://1.2.3.4:5' } });
    assert.equal(got.name, 'from-kubectl');
    assert.deepEqual(got.networkServiceNames, []);
    assert.equal(got.expirationTime, undefined);
  });

  it('writes a network service with its matches in snake_case and reads it back', () => {
    const item = NetworkService.fromPartial({
      name: 'kernel2kernel',
      payload: 'ETHERNET',
      matches: [
        {
          sourceSelector: { app: 'client' },
          routes: [{ destinationSelector: { app: 'server' }, weight: 10 }],
          fallthrough: true,
          metadata: { labels: { forwarder: 'kernel' } },
        },
        { routes: [{ destinationSelector: { role: 'server' } }] },
      ],
    });
    const spec = nsToSpec(item);
    assert.deepEqual(spec, {
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
    });
    assert.deepEqual(nsFromCr({ metadata: {}, spec }), item);
  });

  const names: [string, string | RegExp][] = [
    ['nse-1', 'nse-1'],
    ['a.b-c', 'a.b-c'],
    ['NSE_Kernel:1', /^nse-kernel-1-[0-9a-f]{10}$/],
    ['-leading', /^leading-[0-9a-f]{10}$/],
    ['___', /^x-[0-9a-f]{10}$/],
    ['x'.repeat(254), /^x{200}-[0-9a-f]{10}$/],
  ];
  for (const [name, want] of names) {
    it(`object name of ${JSON.stringify(name.slice(0, 20))}`, () => {
      const got = objectName(name);
      if (typeof want === 'string') assert.equal(got, want);
      else assert.match(got, want);
      assert.ok(got.length <= 253);
    });
  }

  it('keeps distinct names distinct when they sanitise alike', () => {
    assert.notEqual(objectName('NSE_1'), objectName('nse:1'));
    assert.equal(objectName('NSE_1'), objectName('NSE_1'));
  });

  it('orders resource versions numerically', () => {
    assert.equal(newerVersion('10', '9'), true);
    assert.equal(newerVersion('9', '10'), false);
    assert.equal(newerVersion('9', '9'), false);
    assert.equal(newerVersion('1', undefined), true);
    assert.equal(newerVersion(undefined, '1'), false);
  });
});
