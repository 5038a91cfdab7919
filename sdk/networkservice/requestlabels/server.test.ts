import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { pathOf, request } from '../../testing/connections.js';
import * as requestlabels from './index.js';

describe('requestlabels server', () => {
  const cases: {
    name: string;
    nodeName?: string;
    labels: Record<string, string>;
    path: string[];
    want: Record<string, string>;
  }[] = [
    {
      name: 'adds the node and the caller of a local request',
      nodeName: 'node1',
      labels: { app: 'a' },
      path: ['nsc-1', 'nsmgr-node1'],
      want: { app: 'a', nodeName: 'node1', clientName: 'nsc-1' },
    },
    {
      name: 'keeps the labels the request already has (the origin node of a remote request)',
      nodeName: 'node2',
      labels: { nodeName: 'node1', clientName: 'nsc-1' },
      path: ['nsc-1', 'nsmgr-node1', 'fwd-node1', 'nsmgr-node2'],
      want: { nodeName: 'node1', clientName: 'nsc-1' },
    },
    {
      name: 'adds no node label without a node name',
      labels: {},
      path: ['fw', 'nsmgr'],
      want: { clientName: 'fw' },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const rec = recorder();
      const chain = newNetworkServiceChain(requestlabels.newServer({ nodeName: c.nodeName }), rec);
      await chain.request(background(), request({ ...pathOf(c.path), labels: c.labels }));
      assert.deepEqual(rec.calls[0].request?.connection?.labels, c.want);
    });
  }
});
