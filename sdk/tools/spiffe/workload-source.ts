// An X509Source from the SPIFFE Workload API (SPIRE's agent, or any implementation), found through
// SPIFFE_ENDPOINT_SOCKET. It holds one FetchX509SVID stream open: the first message is the
// workload's SVID (the first of the list: the default identity), key and bundle; every later
// message is a rotation and replaces them, so credentials follow without dropping connections. When
// the stream breaks (agent restarted), the last SVID stays in use and the stream is opened again
// with capped doubling backoff, reset once a message arrives.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  SpiffeWorkloadAPIService,
  type X509SVIDResponse,
} from '../../../api/gen/spiffe/workload/workload.js';
import { getErrorMessage } from '../../errors/index.js';
import { logger } from '../log.js';
import type { Svid, X509Source } from './source.js';
import { parseSpiffeId, spiffeIdOfCertificate } from './spiffe-id.js';

const log = logger('spiffe');

/** First and largest delay between attempts to (re)open the stream. */
export const RETRY_MIN_MS = 200;
export const RETRY_MAX_MS = 10_000;
/** How long opening waits for the first SVID by default. */
export const DEFAULT_FIRST_SVID_TIMEOUT_MS = 30_000;
/** The header the Workload API requires on every call (SPIFFE Workload API spec §5.1). */
const SECURITY_HEADER = 'workload.spiffe.io';

export interface WorkloadApiSourceOptions {
  /** SPIFFE_ENDPOINT_SOCKET: unix:///path, unix:/path or a plain path. */
  socket: string;
  firstSvidTimeoutMs?: number;
}

/** The target grpc-js dials for the forms SPIFFE_ENDPOINT_SOCKET allows (unix only: tcp is not local). */
export function workloadApiTarget(socket: string): string {
  const path = socket.startsWith('unix://')
    ? socket.slice('unix://'.length)
    : socket.startsWith('unix:')
      ? socket.slice('unix:'.length)
      : socket;
  if (!path.startsWith('/'))
    throw new Error(`${JSON.stringify(socket)} is not a unix socket path (unix:///path)`);
  return `unix:${path}`;
}

/** Splits concatenated DER certificates (the Workload API's chain and bundle encoding). */
export function splitDer(der: Buffer): X509Certificate[] {
  const out: X509Certificate[] = [];
  let at = 0;
  while (at < der.length) {
    if (der[at] !== 0x30) throw new Error(`not a DER SEQUENCE at byte ${at}`);
    if (at + 2 > der.length) throw new Error(`truncated DER certificate at byte ${at}`);
    let len = der[at + 1];
    let header = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) throw new Error(`bad DER length at byte ${at}`);
      if (at + 2 + n > der.length) throw new Error(`truncated DER certificate at byte ${at}`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i];
      header += n;
    }
    const end = at + header + len;
    if (end > der.length) throw new Error(`truncated DER certificate at byte ${at}`);
    out.push(new X509Certificate(der.subarray(at, end)));
    at = end;
  }
  return out;
}

function toSvid(res: X509SVIDResponse): { svid: Svid; bundlePem: string } {
  const first = res.svids[0];
  if (!first) throw new Error('the Workload API answered with no SVID for this workload');
  const chain = splitDer(first.x509Svid);
  if (chain.length === 0) throw new Error('the SVID has no certificate');
  const leaf = chain[0];
  const key = createPrivateKey({ key: first.x509SvidKey, format: 'der', type: 'pkcs8' });
  const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
  if (!der(createPublicKey(key)).equals(der(leaf.publicKey)))
    throw new Error('the SVID key does not match its certificate');
  const spiffeId = spiffeIdOfCertificate(leaf);
  if (spiffeId.id !== parseSpiffeId(first.spiffeId).id) {
    throw new Error(`the SVID certificate names ${spiffeId.id}, the response ${first.spiffeId}`);
  }
  const bundle = splitDer(first.bundle);
  if (bundle.length === 0) throw new Error('the SVID comes with an empty bundle');
  return {
    svid: {
      spiffeId,
      certChainPem: chain.map((c) => c.toString()).join(''),
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      key,
      leaf,
      notAfterMs: Date.parse(leaf.validTo),
    },
    bundlePem: bundle.map((c) => c.toString()).join(''),
  };
}

class WorkloadApiSource implements X509Source {
  readonly kind = 'workload-api';
  private readonly client: grpc.Client;
  private readonly listeners = new Set<() => void>();
  private current: { svid: Svid; bundlePem: string } | undefined;
  private call: grpc.ClientReadableStream<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delayMs = RETRY_MIN_MS;
  private closed = false;
  private first: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private lastError = 'no answer yet';

  constructor(private readonly opts: WorkloadApiSourceOptions) {
    this.client = new grpc.Client(workloadApiTarget(opts.socket), grpc.credentials.createInsecure());
  }

  /** Resolves with the first SVID; rejects after firstSvidTimeoutMs with the last error. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        this.first = undefined;
        void this.close();
        reject(
          new Error(
            `no X.509-SVID from the Workload API at ${this.opts.socket} within ${this.opts.firstSvidTimeoutMs ?? DEFAULT_FIRST_SVID_TIMEOUT_MS} ms: ${this.lastError}`,
          ),
        );
      }, this.opts.firstSvidTimeoutMs ?? DEFAULT_FIRST_SVID_TIMEOUT_MS);
      this.first = {
        resolve: () => {
          clearTimeout(deadline);
          resolve();
        },
        reject,
      };
      this.open();
    });
  }

  private open(): void {
    if (this.closed) return;
    const md = new grpc.Metadata();
    md.set(SECURITY_HEADER, 'true');
    const m = SpiffeWorkloadAPIService.fetchX509Svid;
    const call = this.client.makeServerStreamRequest(
      m.path,
      m.requestSerialize,
      m.responseDeserialize,
      {},
      md,
    );
    this.call = call;
    call.on('data', (res: X509SVIDResponse) => {
      try {
        this.current = toSvid(res);
      } catch (e) {
        this.lastError = getErrorMessage(e);
        log.warn(
          { err: this.lastError },
          'unusable X.509-SVID from the Workload API; keeping the previous one',
        );
        return;
      }
      this.delayMs = RETRY_MIN_MS;
      const { svid } = this.current;
      log.info(
        { spiffeId: svid.spiffeId.id, notAfter: new Date(svid.notAfterMs).toISOString() },
        'X.509-SVID from the Workload API',
      );
      if (this.first) {
        this.first.resolve();
        this.first = undefined;
      } else {
        for (const l of [...this.listeners]) l();
      }
    });
    call.on('error', (e: Error) => this.retry(e.message));
    call.on('end', () => this.retry('the stream ended'));
  }

  private retry(why: string): void {
    if (this.closed || this.timer) return;
    this.lastError = why;
    log.debug({ err: why, retryInMs: this.delayMs }, 'Workload API stream broke; opening it again');
    this.call = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, RETRY_MAX_MS);
  }

  private now(): { svid: Svid; bundlePem: string } {
    if (this.closed || !this.current) throw new Error('the identity source is closed');
    return this.current;
  }

  svid(): Svid {
    return this.now().svid;
  }

  bundlePem(): string {
    return this.now().bundlePem;
  }

  onUpdate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.client.close();
    this.listeners.clear();
  }
}

/** Connects and waits for the first SVID (throwing, with the last error, when none comes in time). */
export async function openWorkloadApiSource(opts: WorkloadApiSourceOptions): Promise<X509Source> {
  const src = new WorkloadApiSource(opts);
  await src.start();
  return src;
}
