// xconnect is the forwarder's data plane, joining the mechanisms it is given (forwarder/server.ts
// lists them: KERNEL, VXLAN). Going down, it accepts the incoming hop's mechanism (the mechanism
// checks and completes it: resolves a KERNEL namespace, answers a VNI). Coming back, once the next hop
// answered with its own mechanism (see client.ts), the first mechanism that can join the two plans
// the kernel state (pure) and applies it under the request's signal:
//
//   local:   [client ns] nsm-1 ====== veth pair ====== nse-x [endpoint ns]          (mechanisms/kernel)
//   remote:  [client ns] nsm-1 ~vxlan~ (node1) ... (node2) ~vxlan~ nse-x [endpoint ns] (mechanisms/vxlan)
//
// A refresh whose plan is unchanged touches nothing. A refresh that was cancelled (its caller gave
// up) before any kernel change leaves the connection as it is; only a cancelled first request, whose
// kernel state nobody would ever own, is cleaned up. Close removes what was made.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import pLimit, { type LimitFunction } from 'p-limit';
import { type Connection, type Mechanism, State } from '../../../api/gen/networkservice/connection.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { invalidArgument, NsmError, wrap } from '../../errors/index.js';
import type { Dataplane } from '../../kernel/index.js';
import { logger } from '../../tools/log.js';
import { describeTypes } from '../mechanisms/common.js';
import * as metadata from '../metadata/index.js';
import { INCOMING_KEY, OUTGOING_MECHANISM_KEY, PROGRAMMED_KEY } from './common.js';
import {
  type Accepted,
  type MadeLink,
  type OrphanLink,
  planConnection,
  removePolicies,
  type XconnectMechanism,
} from './mechanism.js';
import type { Reconciler } from './reconcile.js';

const log = logger('xconnect');

export const DEFAULT_KERNEL_CONCURRENCY = 8;

export interface XconnectOptions {
  dataplane: Dataplane;
  /** The mechanisms this forwarder joins, asked in this order for a plan. */
  mechanisms: readonly XconnectMechanism[];
  /** This forwarder's ownership mark (`ownerTag(name, tunnelIP)`), written into link aliases. */
  owner: string;
  /** Links of an earlier run of this forwarder, to adopt (restart reconciliation). */
  reconciler?: Reconciler;
  /** How many connections are programmed into the kernel at once. */
  kernelConcurrency?: number;
}

/** What a connection holds in the kernel. */
interface Programmed {
  fingerprint: string;
  mechanism: XconnectMechanism;
  links: readonly MadeLink[];
}

/** The links xconnect made for this connection, as the elements before it see them on the way back (stats). */
export function programmedLinks(ctx: Context): readonly MadeLink[] {
  return metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY)?.links ?? [];
}

class XconnectServer implements NetworkServiceServer {
  private readonly kernelSlots: LimitFunction;
  private readonly byType: Map<string, XconnectMechanism>;

  constructor(private readonly opts: XconnectOptions) {
    this.kernelSlots = pLimit(opts.kernelConcurrency ?? DEFAULT_KERNEL_CONCURRENCY);
    this.byType = new Map(opts.mechanisms.map((m) => [m.type, m]));
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const previous = metadata.load<Accepted>(ctx, false, INCOMING_KEY);
    const incoming = await this.accept(conn, req.mechanismPreferences, previous?.mechanism);
    conn.mechanism = incoming.mechanism;
    metadata.store(ctx, false, INCOMING_KEY, incoming);
    let result: Connection;
    try {
      result = await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (incoming.reserved) this.byType.get(incoming.mechanism.type)?.release(incoming.mechanism);
      throw e;
    }
    // A refresh of a connection whose kernel state works: a caller that gave up (a stale refresh
    // replayed by an nsmgr that hung) must not take that state, or the path behind it, away.
    const working = metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY) !== undefined;
    try {
      // Admission control: a burst of requests is programmed a few at a time, so each finishes in
      // order instead of all of them sharing the CPU and missing their deadlines together.
      await this.kernelSlots(() => this.program(ctx, result, incoming));
    } catch (e) {
      const err = wrap(e, `failed to set up connection ${conn.id} in the kernel`);
      if (working && e instanceof NotStarted) {
        // Nothing changed: the connection keeps what it agreed before, and gives back what this try took.
        if (incoming.reserved) this.byType.get(incoming.mechanism.type)?.release(incoming.mechanism);
        if (previous) metadata.store(ctx, false, INCOMING_KEY, previous);
        throw err;
      }
      const { ctx: closeCtx, cancel } = postpone(ctx)();
      await this.close(closeCtx, result).catch((closeErr: unknown) => {
        log.warn({ err: closeErr, id: conn.id }, 'clean-up after a failed set-up also failed');
      });
      cancel();
      throw err;
    }
    result.mechanism = incoming.mechanism;
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const programmed = metadata.loadAndDelete<Programmed>(ctx, false, PROGRAMMED_KEY);
    const incoming = metadata.loadAndDelete<Accepted>(ctx, false, INCOMING_KEY);
    if (incoming && !programmed) this.byType.get(incoming.mechanism.type)?.release(incoming.mechanism);
    // Our links and the rest of the path are independent: remove them at the same time (each kernel
    // delete of a veth or VXLAN netdev takes tens of milliseconds). Deletes are not cancelled with the
    // caller: one killed half-way would leave a link nobody owns.
    const removed = programmed ? this.remove(programmed) : Promise.resolve();
    if (conn.state === State.RESELECT_REQUESTED) {
      // The Close a heal sends before it selects again (begin): the client waits for it before its
      // new Request, which needs our links gone (the interface name is the same), not the rest of
      // the path. The rest is closed as always, without the client waiting: after a replica died,
      // the remote half of a Close (two more hops, each busy healing) took 150-250 ms per client.
      const { ctx: rest, cancel } = postpone(ctx)();
      void next
        .server(ctx)
        .close(rest, conn)
        .catch((e: unknown) => log.debug({ id: conn.id, err: e }, 'closing the rest of the path failed'))
        .finally(cancel);
      await removed;
      return;
    }
    const [local, downstream] = await Promise.allSettled([removed, next.server(ctx).close(ctx, conn)]);
    if (local.status === 'rejected') throw local.reason;
    if (downstream.status === 'rejected') throw downstream.reason;
  }

  private async remove(p: Programmed): Promise<void> {
    log.debug({ links: p.links.map((l) => `${l.netns.path}:${l.name}`) }, 'removing links');
    // Policy rules name a table, not a link, so they outlive the link: removed here, whatever the mechanism.
    const [links, rules] = await Promise.allSettled([
      p.mechanism.remove(p.links, this.opts.dataplane),
      removePolicies(this.opts.dataplane, p.links),
    ]);
    if (links.status === 'rejected') throw links.reason;
    if (rules.status === 'rejected') throw rules.reason;
  }

  /** Chooses the incoming hop's mechanism and lets its implementation check and complete it. */
  private async accept(conn: Connection, prefs: Mechanism[], previous?: Mechanism): Promise<Accepted> {
    const supported = (m: Mechanism | undefined) => m !== undefined && this.byType.has(m.type);
    const chosen = supported(conn.mechanism) ? conn.mechanism! : prefs.find((m) => supported(m));
    if (!chosen) {
      throw new NsmError(
        status.INVALID_ARGUMENT,
        `no supported mechanism in mechanism_preferences (got ${describeTypes(prefs)}; this forwarder supports ${[...this.byType.keys()].join(' and ')})`,
      );
    }
    const prev = previous?.type === chosen.type ? previous : undefined;
    return this.byType.get(chosen.type)!.accept(conn, chosen, prev);
  }

  /** Builds (or, on a refresh that changed nothing, keeps) the kernel side of the connection. */
  private async program(ctx: Context, conn: Connection, incoming: Accepted): Promise<void> {
    const before = metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY);
    if (ctx.signal.aborted) throw cancelledBeforeStart();
    const answered = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    if (!answered) throw invalidArgument('the next hop returned no mechanism');
    const other = this.byType.get(answered.type);
    if (!other) throw invalidArgument(`cannot cross-connect ${incoming.mechanism.type} to ${answered.type}`);
    const outgoing = await other.resolve(conn, answered);
    const { mechanism, plan } = planConnection(this.opts.mechanisms, {
      conn,
      incoming,
      outgoing,
      owner: this.opts.owner,
    });
    // Only what reaches the kernel decides whether anything must change.
    let fingerprint = fingerprintOf(plan);
    if (before?.fingerprint === fingerprint) return;
    if (ctx.signal.aborted) throw cancelledBeforeStart();
    // A rebuild runs to its end even if the caller gives up: stopped half-way, it would leave neither
    // the old state nor the new one. A first request stops when its caller does.
    const postponed = before ? postpone(ctx)() : undefined;
    try {
      if (before) {
        metadata.loadAndDelete(ctx, false, PROGRAMMED_KEY);
        await this.remove(before);
      }
      const reconciler = this.opts.reconciler;
      await mechanism.apply(plan, {
        dataplane: this.opts.dataplane,
        signal: postponed?.ctx.signal ?? ctx.signal,
        rebuilding: before !== undefined,
        adopt: async (alias, netns) => reconciler?.adopt(alias, netns),
        discard: async (l: OrphanLink) => reconciler?.discard(l),
        record: (links) =>
          metadata.store<Programmed>(ctx, false, PROGRAMMED_KEY, { fingerprint, mechanism, links }),
        updateOutgoing: (parameters) => {
          // The next refresh sends this to the next hop, which answers with it: the plan then matches.
          const m = { ...answered, parameters: { ...answered.parameters, ...parameters } };
          metadata.store(ctx, true, OUTGOING_MECHANISM_KEY, m);
          const changed = {
            ...outgoing,
            mechanism: {
              ...outgoing.mechanism,
              parameters: { ...outgoing.mechanism.parameters, ...parameters },
            },
          };
          fingerprint = fingerprintOf(
            planConnection(this.opts.mechanisms, {
              conn,
              incoming,
              outgoing: changed,
              owner: this.opts.owner,
            }).plan,
          );
        },
      });
    } finally {
      postponed?.cancel();
    }
  }
}

/**
 * A digest of the plan's JSON: equal plans, equal digests. Kept per connection instead of the JSON
 * itself (a kilobyte and more with addresses, routes and aliases) so that each connection's state
 * is held once, in the plan's own objects.
 */
function fingerprintOf(plan: unknown): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('base64');
}

/** Cancelled before this request changed anything in the kernel. */
class NotStarted extends NsmError {
  constructor() {
    super(status.CANCELLED, 'the caller gave up before the kernel was set up');
  }
}

function cancelledBeforeStart(): NsmError {
  return new NotStarted();
}

export function newServer(opts: XconnectOptions): NetworkServiceServer {
  if (!opts.dataplane) throw new TypeError('xconnect.newServer: a dataplane is required');
  if (!opts.mechanisms?.length) throw new TypeError('xconnect.newServer: at least one mechanism is required');
  return new XconnectServer(opts);
}
