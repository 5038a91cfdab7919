import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import * as clientinfo from './index.js';

describe('clientinfo client', () => {
  const cases: {
    name: string;
    env: NodeJS.ProcessEnv;
    labels?: Record<string, string>;
    want: Record<string, string>;
  }[] = [
    {
      name: 'copies NODE_NAME, POD_NAME and CLUSTER_NAME into the labels',
      env: { NODE_NAME: 'node-1', POD_NAME: 'pod-1', CLUSTER_NAME: 'cluster-1' },
      want: { nodeName: 'node-1', podName: 'pod-1', clusterName: 'cluster-1' },
    },
    {
      name: 'leaves out variables that are not set or empty',
      env: { NODE_NAME: 'node-1', POD_NAME: '' },
      want: { nodeName: 'node-1' },
    },
    {
      name: 'does not overwrite labels the client set',
      env: { NODE_NAME: 'node-1', POD_NAME: 'pod-1' },
      labels: { nodeName: 'mine', app: 'x' },
      want: { nodeName: 'mine', podName: 'pod-1', app: 'x' },
    },
    {
      name: 'keeps an existing empty label',
      env: { NODE_NAME: 'node-1' },
      labels: { nodeName: '' },
      want: { nodeName: '' },
    },
    { name: 'adds nothing without the variables', env: {}, labels: { app: 'x' }, want: { app: 'x' } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const rec = recorder();
      const chain = newNetworkServiceChain(clientinfo.newClient(c.env), rec);
      await chain.request(background(), request({ id: 'a', labels: c.labels }));
      assert.deepEqual(rec.calls[0].request?.connection?.labels, c.want);
    });
  }

  it('reads process.env by default', async () => {
    const saved = process.env.NODE_NAME;
    process.env.NODE_NAME = 'from-env';
    try {
      const rec = recorder();
      await newNetworkServiceChain(clientinfo.newClient(), rec).request(background(), request({ id: 'a' }));
      assert.equal(rec.calls[0].request?.connection?.labels.nodeName, 'from-env');
    } finally {
      if (saved === undefined) delete process.env.NODE_NAME;
      else process.env.NODE_NAME = saved;
    }
  });

  it('passes close through untouched', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(clientinfo.newServer({ NODE_NAME: 'n' }), rec);
    await chain.close(background(), request({ id: 'a' }).connection!);
    assert.deepEqual(rec.calls[0].conn?.labels, {});
  });
});
