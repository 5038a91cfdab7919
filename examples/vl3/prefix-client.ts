// The vL3 endpoint's side of ipam.IPAM/ManagePrefixes: one stream to vl3-ipam, named after the
// replica (metadata `nsm-owner`), asking for the slice it had before (so a reconnect, or a restart
// within the lease, keeps it). The stream is held for the replica's life: when it breaks, it is opened
// again (capped backoff) with the same slice asked for. A new slice (the old one was lost) is reported
// through `onSlice`.
import * as grpc from '@grpc/grpc-js';
import { IPAMClient, type PrefixRequest, type PrefixResponse, Type } from '../../api/gen/ipam/ipam.js';
import { unavailable } from '../../sdk/errors/index.js';
import { grpcTarget } from '../../sdk/grpc/status.js';
import { logger } from '../../sdk/tools/log.js';

const log = logger('vl3');
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

export interface PrefixClientOptions {
  /** vl3-ipam's URL (tcp://host:port or unix:///path). */
  readonly url: string;
  /** The replica's name: its slice is kept under it. */
  readonly owner: string;
  /** Called for every slice answered after the first (normally the same one). */
  readonly onSlice?: (slice: string) => void;
}

export interface PrefixClient {
  /** The slice, once the first answer came. Rejects with UNAVAILABLE after `timeoutMs`. */
  first(timeoutMs: number): Promise<string>;
  /** Ends the stream; the slice stays reserved for the lease (a restart gets it back). */
  close(): void;
}

export function newPrefixClient(opts: PrefixClientOptions): PrefixClient {
  const client = new IPAMClient(grpcTarget(opts.url), grpc.credentials.createInsecure());
  let slice: string | undefined;
  let closed = false;
  let call: grpc.ClientDuplexStream<PrefixRequest, PrefixResponse> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = RETRY_MIN_MS;
  const waiters: Array<(s: string) => void> = [];

  const open = () => {
    if (closed) return;
    const md = new grpc.Metadata();
    md.set('nsm-owner', opts.owner);
    const c = client.managePrefixes(md);
    call = c;
    c.on('data', (res: PrefixResponse) => {
      delay = RETRY_MIN_MS;
      const had = slice;
      slice = res.prefix;
      if (had === undefined) for (const w of waiters.splice(0)) w(res.prefix);
      else opts.onSlice?.(res.prefix);
      if (had !== undefined && had !== res.prefix) log.warn({ had, now: res.prefix }, 'vL3 slice changed');
    });
    const again = (why: string) => {
      if (closed || call !== c) return;
      call = undefined;
      log.info({ why, inMs: delay }, 'prefix stream broke; opening it again');
      timer = setTimeout(open, delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    };
    c.on('error', (e: Error) => again(e.message));
    c.on('end', () => again('ended'));
    c.write({ type: Type.ALLOCATE, prefix: slice ?? '', excludePrefixes: [] });
  };
  open();

  return {
    first(timeoutMs) {
      if (slice) return Promise.resolve(slice);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(unavailable(`failed to get a vL3 slice from ${opts.url} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((s) => {
          clearTimeout(t);
          resolve(s);
        });
      });
    },
    close() {
      closed = true;
      clearTimeout(timer);
      call?.cancel();
      call = undefined;
      client.close();
    },
  };
}
