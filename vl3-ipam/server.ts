// vl3-ipam: serves upstream's ipam.IPAM/ManagePrefixes for the vL3 endpoints of one network. Each
// stream is one replica: every ALLOCATE is answered with its slice (the one it holds, the one it asks
// for in `prefix` if free, else the first free one) and, in exclude_prefixes, the slices of the other
// replicas; DELETE frees the slice and ends the stream. When a stream ends otherwise (the replica died
// or restarts) the slice stays reserved for its owner for the lease. The owner is the `nsm-owner`
// request metadata (our vL3 endpoint sends its name), else the stream itself (upstream clients, which
// ask for their old slice in `prefix` instead).
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { IPAMService, type PrefixRequest, PrefixResponse, Type } from '../api/gen/ipam/ipam.js';
import { getErrorMessage } from '../sdk/errors/index.js';
import { type Served, serve } from '../sdk/grpc/server.js';
import { toStatus } from '../sdk/grpc/status.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { SlicePool } from '../sdk/tools/ippool/slice-pool.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('vl3-ipam');

/** gRPC metadata key naming the replica that owns a stream. */
export const OWNER_METADATA = 'nsm-owner';

export interface Vl3IpamOptions {
  readonly listenOn: string;
  readonly prefix: string;
  readonly sliceLength: number;
  readonly leaseMs: number;
}

export interface Vl3Ipam {
  readonly url: string;
  readonly pool: SlicePool;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type Stream = grpc.ServerDuplexStream<PrefixRequest, PrefixResponse>;

export function handleStream(pool: SlicePool, stream: Stream): void {
  const named = stream.metadata.get(OWNER_METADATA)[0];
  const owner = typeof named === 'string' && named !== '' ? named : `stream-${randomUUID()}`;
  let deleted = false;
  const end = () => {
    if (!deleted) pool.release(owner);
  };
  stream.on('data', (req: PrefixRequest) => {
    try {
      if (req.type === Type.DELETE) {
        deleted = true;
        pool.free(owner);
        log.info({ owner }, 'slice freed');
        stream.end();
        return;
      }
      if (req.type !== Type.ALLOCATE) throw new Error(`unknown request type ${req.type}`);
      const prefix = pool.allocate(owner, req.prefix || undefined, req.excludePrefixes);
      const others = pool
        .entries()
        .filter((e) => e.owner !== owner)
        .map((e) => e.prefix);
      log.info({ owner, prefix }, 'slice allocated');
      stream.write(PrefixResponse.fromPartial({ prefix, excludePrefixes: others }));
    } catch (e) {
      log.warn({ owner, err: getErrorMessage(e) }, 'refused');
      if (!stream.cancelled && stream.writable) stream.emit('error', toStatus(e));
    }
  });
  stream.on('end', () => {
    end();
    stream.end();
  });
  stream.on('error', end);
  stream.on('cancelled', end);
}

export async function startVl3Ipam(opts: Vl3IpamOptions): Promise<Vl3Ipam> {
  const pool = new SlicePool({ prefix: opts.prefix, sliceLength: opts.sliceLength, leaseMs: opts.leaseMs });
  const server: Served = await serve({
    listenOn: [opts.listenOn],
    register: (s) =>
      s.addService(IPAMService, { managePrefixes: (stream: Stream) => handleStream(pool, stream) }),
  });
  log.info({ url: server.urls[0], prefix: opts.prefix, sliceLength: opts.sliceLength }, 'vl3-ipam serving');
  return disposable({ url: server.urls[0], pool, close: closeOnce(() => server.close()) });
}
