// passthrough makes an endpoint a CNF: it sends the connection it received on, through its own
// nsmgr, to whatever the NetworkService's matches route the CNF's own labels to, and joins the two
// interfaces in its namespace (sdk/kernel/join.ts). Upstream's passthrough CNFs do the same with
// VPP; the connection (its path, its id per hop, its IP context) is the same object all the way, so
// the client's address context reaches the final endpoint unchanged and the endpoint's addresses
// come back to the client.
//
//   client ─▶ nsmgr ─▶ fwd ─▶ [CNF: kernel ▸ passthrough ▸ clienturl ▸ connect] ─▶ nsmgr ─▶ fwd ─▶ …
//
// Going down it swaps the incoming hop's view of the connection for the outgoing one: the labels
// become the CNF's own (so `source_selector` routes it onward; the nsmgr adds nodeName/clientName),
// the endpoint name and mechanism become those of the connection onward (empty the first time:
// discover chooses), and the mechanism preferences are left to the client elements after it
// (kernel.newClient). Coming back it restores the incoming view, remembers the outgoing one in
// metadata (so refresh and Close reach the same next hop) and joins the interfaces. The incoming
// interface is made by the forwarder only after we answered, so the join waits for it in the
// background (JOIN_POLL_MS) for at most JOIN_WAIT_MS; Close stops the wait and undoes the join.
//
// It sits after kernel.newServer (which chose the incoming interface) and before clienturl/connect.

import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import { State } from '../../../api/gen/networkservice/connection.js';
import { clock } from '../../core/clock.js';
import { background, type Context, withCancel } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { failedPrecondition } from '../../errors/index.js';
import type { Joiner, JoinSpec, L2Join } from '../../kernel/join.js';
import { sleep } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import { PARAM_NAME } from '../mechanisms/common.js';
import * as metadata from '../metadata/index.js';

const log = logger('passthrough');
const OUTGOING_KEY = Symbol('passthrough-outgoing');
const JOIN_KEY = Symbol('passthrough-join');

export const JOIN_POLL_MS = 5;
export const JOIN_WAIT_MS = 10_000;

interface Outgoing {
  nseName: string;
  mechanism?: Mechanism;
}

interface JoinState {
  spec: JoinSpec;
  key: string;
  cancel: () => void;
  done: Promise<void>;
}

export interface PassthroughOptions {
  /** The CNF's labels: put on every request onward, in place of the client's. */
  labels: Record<string, string>;
  joiner: Joiner;
  /** ETHERNET payload: how the interfaces are joined (default mirred, the faster in bench/'s chain part). */
  l2?: L2Join;
  /** Called once both interfaces are joined (the firewall applies its rules here); errors are logged. */
  onJoined?: (spec: JoinSpec) => Promise<void>;
}

class PassthroughServer implements NetworkServiceServer {
  constructor(private readonly opts: PassthroughOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const incoming = {
      labels: conn.labels,
      mechanism: conn.mechanism,
      nseName: conn.networkServiceEndpointName,
      prefs: req.mechanismPreferences,
    };
    const clientIf = conn.mechanism?.parameters[PARAM_NAME];
    if (!clientIf)
      throw failedPrecondition(
        'passthrough: the incoming connection has no kernel interface (kernel.newServer first)',
      );
    if (conn.state === State.RESELECT_REQUESTED) metadata.loadAndDelete(ctx, false, OUTGOING_KEY);
    const outgoing = metadata.load<Outgoing>(ctx, false, OUTGOING_KEY);
    conn.labels = { ...this.opts.labels };
    conn.networkServiceEndpointName = outgoing?.nseName ?? '';
    conn.mechanism = outgoing?.mechanism;
    req.mechanismPreferences = [];
    const restore = (c: Connection) => {
      c.labels = incoming.labels;
      c.mechanism = incoming.mechanism;
      c.networkServiceEndpointName = incoming.nseName;
      req.mechanismPreferences = incoming.prefs;
    };
    let result: Connection;
    try {
      result = await next.server(ctx).request(ctx, req);
    } catch (e) {
      restore(conn);
      throw e;
    }
    metadata.store<Outgoing>(ctx, false, OUTGOING_KEY, {
      nseName: result.networkServiceEndpointName,
      mechanism: result.mechanism,
    });
    const endpointIf = result.mechanism?.parameters[PARAM_NAME] ?? '';
    this.startJoin(ctx, {
      payload: result.payload,
      client: clientIf,
      endpoint: endpointIf,
      ipContext: structuredClone(result.context?.ipContext),
      l2: this.opts.l2 ?? 'mirred',
    });
    restore(result);
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const join = metadata.loadAndDelete<JoinState>(ctx, false, JOIN_KEY);
    join?.cancel();
    const outgoing = metadata.loadAndDelete<Outgoing>(ctx, false, OUTGOING_KEY);
    const incoming = {
      labels: conn.labels,
      mechanism: conn.mechanism,
      nseName: conn.networkServiceEndpointName,
    };
    conn.labels = { ...this.opts.labels };
    if (outgoing) {
      conn.networkServiceEndpointName = outgoing.nseName;
      conn.mechanism = outgoing.mechanism;
    }
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      Object.assign(conn, {
        labels: incoming.labels,
        mechanism: incoming.mechanism,
        networkServiceEndpointName: incoming.nseName,
      });
      if (join) {
        await join.done;
        await this.opts.joiner
          .unjoin(join.spec)
          .catch((e: unknown) => log.warn({ err: e, id: conn.id }, 'unjoin failed'));
      }
    }
  }

  /** Joins in the background once the client interface exists; a refresh with the same spec does nothing. */
  private startJoin(ctx: Context, spec: JoinSpec): void {
    const key = JSON.stringify(spec);
    const previous = metadata.load<JoinState>(ctx, false, JOIN_KEY);
    if (previous?.key === key) return;
    previous?.cancel();
    // Not the request's context: the wait outlives the request (it ends when our answer made the forwarder act).
    const job = withCancel(background());
    const done = this.join(job.ctx, spec).catch((e: unknown) => {
      if (!job.ctx.signal.aborted)
        log.warn({ err: e, client: spec.client, endpoint: spec.endpoint }, 'join failed');
    });
    metadata.store<JoinState>(ctx, false, JOIN_KEY, { spec, key, cancel: job.cancel, done });
  }

  private async join(ctx: Context, spec: JoinSpec): Promise<void> {
    const c = clock(ctx);
    const deadline = c.now() + JOIN_WAIT_MS;
    while (!(await this.opts.joiner.ready(spec))) {
      if (c.now() > deadline)
        throw new Error(`interface ${spec.client} was not made and configured within ${JOIN_WAIT_MS} ms`);
      await sleep(ctx, JOIN_POLL_MS); // rejects when Close cancels the wait
    }
    if (ctx.signal.aborted) return;
    await this.opts.joiner.join(spec);
    log.debug({ client: spec.client, endpoint: spec.endpoint, payload: spec.payload }, 'joined');
    await this.opts.onJoined?.(spec);
  }
}

export function newServer(opts: PassthroughOptions): NetworkServiceServer {
  if (!opts.joiner) throw new Error('passthrough: a joiner is required');
  return new PassthroughServer(opts);
}
