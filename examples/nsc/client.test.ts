import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background, withTimeout } from '../../sdk/core/context.js';
import type { NetworkServiceClient } from '../../sdk/core/types.js';
import { NsmError } from '../../sdk/errors/index.js';
import { request } from '../../sdk/testing/connections.js';
import { RETRY_INTERVAL_MS, requestWithRetry } from './client.js';

/** A chain that fails the first `failures` requests with `code`, then answers. */
function failing(failures: number, code: number) {
  const calls: number[] = [];
  const chain: NetworkServiceClient = {
    async request(_ctx, req) {
      calls.push(Date.now());
      if (calls.length <= failures)
        throw new NsmError(code, `failed to find network service endpoints (call ${calls.length})`);
      return req.connection!;
    },
    close: async () => {},
  };
  return { chain, calls };
}

describe('nsc first request', () => {
  it('tries again every RETRY_INTERVAL_MS while the mesh is not ready (a registry restarting)', async () => {
    const { chain, calls } = failing(2, status.NOT_FOUND);
    const { ctx, cancel } = withTimeout(background(), 5_000);
    try {
      const conn = await requestWithRetry(ctx, chain, request({ id: 'nsc-0' }));
      assert.equal(conn.id, 'nsc-0');
    } finally {
      cancel();
    }
    assert.equal(calls.length, 3);
    assert.ok(calls[1] - calls[0] >= RETRY_INTERVAL_MS - 5, `waited ${calls[1] - calls[0]} ms`);
  });

  it('gives up with the last error when the request timeout runs out', async () => {
    const { chain, calls } = failing(1000, status.UNAVAILABLE);
    const { ctx, cancel } = withTimeout(background(), 3 * RETRY_INTERVAL_MS);
    try {
      await assert.rejects(requestWithRetry(ctx, chain, request({ id: 'nsc-0' })), (e: NsmError) => {
        assert.equal(e.code, status.UNAVAILABLE);
        assert.match(e.message, /failed to find network service endpoints/);
        return true;
      });
    } finally {
      cancel();
    }
    assert.ok(calls.length >= 2 && calls.length <= 4, `${calls.length} attempts`);
  });

  it('does not retry a request that is wrong in itself', async () => {
    const { chain, calls } = failing(1, status.INVALID_ARGUMENT);
    const { ctx, cancel } = withTimeout(background(), 5_000);
    try {
      await assert.rejects(requestWithRetry(ctx, chain, request({ id: 'nsc-0' })), /call 1/);
    } finally {
      cancel();
    }
    assert.equal(calls.length, 1);
  });
});
