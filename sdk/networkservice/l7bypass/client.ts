// l7bypass (client) keeps the traffic of a pod's mesh connections away from the pod's L7 sidecar
// (Istio, Linkerd: iptables REDIRECT of outbound TCP in the nat OUTPUT chain to a local proxy port):
// per connection it inserts, at the top of nat OUTPUT, a rule that RETURNs what leaves by the
// connection's interface, and deletes it when the connection closes. An NSURL with `?l7=capture` gets
// a narrower rule: its traffic goes through the sidecar like any other, except the client's own
// data-plane check (TCP to port 9 of the peer), which must test the connection, not the sidecar. The `l7` key is removed from the labels
// before the request leaves (it is this client's instruction, not a selector for endpoints).
//
//   pod netns:  app ──connect()──▶ nat OUTPUT: [nsm-l7-bypass:<id> -o nsm-1 RETURN] ← ours, first
//                                              [-p tcp -j ISTIO_OUTPUT → REDIRECT :15001] ← sidecar
//
// Chain placement: in the client chain's additional functionality (after begin, so refresh and heal
// re-enter above it); it acts on the answer (the interface name is known then).
import { clock } from '../../core/clock.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { failedPrecondition, getErrorMessage } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { LIVENESS_PORT } from '../heal/index.js';
import * as metadata from '../metadata/index.js';
import {
  bypassRule,
  type Family,
  families,
  hasRedirect,
  L7_BYPASS,
  L7_LABEL,
  type L7Mode,
  parseL7Mode,
} from './common.js';
import { type Iptables, newIptables } from './iptables.js';

const log = logger('l7bypass');
/**
 * `auto` reads the nat table at most this often per family (one `iptables -S` per Request would add
 * tens of ms to every connection's setup on a loaded node); a sidecar set up later is noticed by the
 * first Request or refresh after this long.
 */
export const AUTO_RECHECK_MS = 10_000;
const MODE_KEY = Symbol('l7bypass.mode');
const INSTALLED_KEY = Symbol('l7bypass.installed');

/**
 * When rules are installed for connections in bypass mode:
 * - `auto`: when the namespace's nat table already redirects (a sidecar is there); a namespace the
 *   client cannot read (no iptables, no CAP_NET_ADMIN) has nothing installed, with a debug line.
 * - `always`: every connection; a rule that cannot be installed fails the Request.
 * - `off`: never (Kubernetes, where the webhook's annotations make the sidecar exclude the interfaces).
 */
export type BypassPolicy = 'auto' | 'always' | 'off';

export interface L7BypassClientOptions {
  policy?: BypassPolicy;
  /** The TCP port of the client's data-plane check, kept from the sidecar in capture mode (default heal's). */
  livenessPort?: number;
  /** The iptables access (tests record the calls); default: the `iptables` command. */
  iptables?: Iptables;
}

interface Installed {
  rule: string[];
  families: Family[];
}

class L7BypassClient implements NetworkServiceClient {
  /** Shared across connections by design: they all live in this process's namespace. */
  private readonly natSeen = new Map<Family, { at: number; redirects: boolean }>();

  constructor(
    private readonly policy: BypassPolicy,
    private readonly iptables: Iptables,
    private readonly livenessPort: number,
  ) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    // The key is read once and kept: a refresh re-sends the request without it.
    const labels = conn.labels ?? {};
    const mode =
      L7_LABEL in labels
        ? parseL7Mode(labels[L7_LABEL], `the labels of connection ${conn.id}`)
        : (metadata.load<L7Mode>(ctx, true, MODE_KEY) ?? L7_BYPASS);
    delete labels[L7_LABEL];
    metadata.store(ctx, true, MODE_KEY, mode);

    const result = await next.client(ctx).request(ctx, req);
    const before = metadata.load<Installed>(ctx, true, INSTALLED_KEY);
    try {
      await this.apply(ctx, result, mode);
    } catch (e) {
      const err = failedPrecondition(
        `failed to keep connection ${result.id} out of the L7 sidecar (nat OUTPUT RETURN rule): ${getErrorMessage(e)}`,
        e,
      );
      if (before) {
        log.warn({ err, id: result.id }, 'bypass rule not renewed; the old one stays');
        return result;
      }
      const { ctx: closeCtx, cancel } = postpone(ctx)();
      await this.close(closeCtx, result)
        .catch((c: unknown) =>
          log.warn({ err: c, id: result.id }, 'closing after a failed bypass rule failed'),
        )
        .finally(cancel);
      throw err;
    }
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.client(ctx).close(ctx, conn);
    } finally {
      const installed = metadata.loadAndDelete<Installed>(ctx, true, INSTALLED_KEY);
      metadata.loadAndDelete(ctx, true, MODE_KEY);
      if (installed) await this.uninstall(installed);
    }
  }

  private async apply(ctx: Context, conn: Connection, mode: L7Mode): Promise<void> {
    const ifname = conn.mechanism?.parameters?.name;
    const want =
      ifname && this.policy !== 'off'
        ? {
            rule: bypassRule(ifname, conn.id, mode, this.livenessPort),
            families: families(conn.context?.ipContext),
          }
        : undefined;
    const have = metadata.load<Installed>(ctx, true, INSTALLED_KEY);
    if (have && (!want || !sameRule(have, want))) {
      await this.uninstall(have);
      metadata.loadAndDelete(ctx, true, INSTALLED_KEY);
    }
    if (!want) return;
    const needed =
      have && sameRule(have, want) ? have.families : await this.neededFamilies(ctx, want.families);
    if (needed.length === 0) return;
    const done: Family[] = [];
    try {
      for (const f of needed) {
        await this.iptables.ensureFirst(f, want.rule);
        done.push(f);
      }
    } finally {
      // What went in is recorded even when a later family failed, so close removes it.
      if (done.length > 0)
        metadata.store<Installed>(ctx, true, INSTALLED_KEY, { rule: want.rule, families: done });
    }
    log.info({ id: conn.id, ifname, mode, families: done }, 'L7 sidecar bypass rule in place');
  }

  /** `auto`: the families whose nat table redirects; `always`: all of them. */
  private async neededFamilies(ctx: Context, all: Family[]): Promise<Family[]> {
    if (this.policy === 'always') return all;
    const out: Family[] = [];
    for (const f of all) {
      const now = clock(ctx).now();
      let seen = this.natSeen.get(f);
      if (!seen || now - seen.at >= AUTO_RECHECK_MS) {
        const rules = await this.iptables.listNat(f).catch((e: unknown) => {
          log.debug({ family: f, error: getErrorMessage(e) }, 'nat table not readable; no bypass rule');
          return '';
        });
        seen = { at: now, redirects: hasRedirect(rules) };
        this.natSeen.set(f, seen);
      }
      if (seen.redirects) out.push(f);
    }
    return out;
  }

  private async uninstall(installed: Installed): Promise<void> {
    const errors: unknown[] = [];
    for (const f of installed.families)
      await this.iptables.remove(f, installed.rule).catch((e: unknown) => errors.push(e));
    if (errors.length > 0)
      log.warn(
        { rule: installed.rule.join(' '), errors: errors.map(getErrorMessage) },
        'bypass rule not removed',
      );
  }
}

function sameRule(a: Installed, b: Installed): boolean {
  return a.rule.join(' ') === b.rule.join(' ');
}

/** One per client process; needs CAP_NET_ADMIN in the pod's namespace unless the policy is `off`. */
export function newClient(opts: L7BypassClientOptions = {}): NetworkServiceClient {
  const policy = opts.policy ?? 'auto';
  if (!['auto', 'always', 'off'].includes(policy))
    throw new TypeError(`l7bypass.newClient: policy "${policy}" is not auto, always or off`);
  return new L7BypassClient(policy, opts.iptables ?? newIptables(), opts.livenessPort ?? LIVENESS_PORT);
}
