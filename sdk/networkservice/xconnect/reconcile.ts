// Restart reconciliation. A forwarder marks every link it makes with an alias
// "nsm:<owner>:<connection id>:<side>", where <owner> is "<forwarder name>@<tunnel IP>". When it
// starts, it looks in every network namespace it can see for links with its own mark: those belong to
// connections it served before it was restarted. They keep carrying traffic untouched; when their
// connection is refreshed or re-requested, xconnect adopts them instead of creating new ones. What
// no connection claims within the grace period is deleted, and the VNIs of adopted or deleted
// VXLAN links are kept consistent with the kernel. All kernel access goes through the Dataplane.
import { getErrorMessage } from '../../errors/index.js';
import type { Dataplane, NetnsRef, NetnsResolver } from '../../kernel/index.js';
import { logger } from '../../tools/log.js';
import type { VniAllocator } from '../mechanisms/vxlan/vni.js';
import { type OrphanLink, ownerPrefix } from './mechanism.js';

const log = logger('reconcile');
/** How many namespaces are listed at once during the start-up scan. */
const SCAN_CONCURRENCY = 8;

export interface ReconcilerOptions {
  readonly dataplane: Dataplane;
  /** Lists the namespaces to look in. */
  readonly resolver: Pick<NetnsResolver, 'list'>;
  /** This forwarder's ownership mark (`ownerTag`). */
  readonly owner: string;
  /** The node's VNIs: those of links found are claimed, so no new connection takes them. */
  readonly vni: VniAllocator;
  /** How long found links wait for their connection before they are deleted. */
  readonly graceMs: number;
}

/**
 * Links of an earlier run. Contract: the scan starts at construction (`ready` settles when it is done);
 * `adopt` may be called at any time, also before the scan finished; after `close()` the grace timer
 * no longer fires and nothing else is deleted.
 */
export interface Reconciler {
  readonly ready: Promise<void>;
  /**
   * Takes the link left by an earlier run under this alias, if any. `netns` is where the link would be:
   * while the full scan is still running (it can take seconds on a host with thousands of namespaces),
   * that namespace is looked at right away instead of waiting for the scan.
   */
  adopt(alias: string, netns?: NetnsRef): Promise<OrphanLink | undefined>;
  /** Deletes an adopted link after all (it did not fit its connection) and gives back its VNI. */
  discard(link: OrphanLink): Promise<void>;
  /** Deletes what no connection claimed; the grace timer calls it. Resolves with how many were deleted. */
  sweep(): Promise<number>;
  /** Links found and not yet adopted or deleted. */
  readonly pending: number;
  /** Aliases remembered as adopted (only while the scan runs, so that it does not report them again). */
  readonly remembered: number;
  close(): Promise<void>;
}

export function newReconciler(opts: ReconcilerOptions): Reconciler {
  return new LinkReconciler(opts);
}

class LinkReconciler implements Reconciler {
  private readonly orphans = new Map<string, OrphanLink>();
  /** Aliases adopted while the scan runs, so it does not list them again; emptied when it ends. */
  private readonly adopted = new Set<string>();
  private scanned = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  readonly ready: Promise<void>;

  constructor(private readonly opts: ReconcilerOptions) {
    this.ready = this.scan().catch((e: unknown) => log.warn({ error: getErrorMessage(e) }, 'scan failed'));
  }

  /** Records our links found in one namespace (and claims their VNIs). */
  private async collect(netns: NetnsRef, own = false): Promise<void> {
    const links = await this.opts.dataplane
      .listOwnedLinks(own ? null : netns, ownerPrefix(this.opts.owner))
      .catch((e: unknown) => {
        log.debug({ netns: netns.path, error: getErrorMessage(e) }, 'cannot list links');
        return [];
      });
    for (const l of links) {
      const alias = l.alias as string;
      if (this.adopted.has(alias) || this.orphans.has(alias)) continue;
      const vni = l.kind === 'vxlan' ? l.vni : undefined;
      this.orphans.set(alias, { netns: { path: netns.path }, name: l.name, kind: l.kind, vni });
      if (vni !== undefined && !this.opts.vni.has(vni)) this.opts.vni.claim(vni);
    }
  }

  private async scan(): Promise<void> {
    const namespaces = await this.opts.resolver.list();
    let next = 0;
    const worker = async () => {
      while (next < namespaces.length) {
        const ns = namespaces[next++];
        await this.collect(ns, ns.own);
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    this.scanned = true;
    this.adopted.clear();
    log.info(
      { found: this.orphans.size, namespaces: namespaces.length },
      'scanned for links of an earlier run',
    );
    if (this.orphans.size > 0 && !this.closed) {
      this.timer = setTimeout(() => void this.sweep(), this.opts.graceMs);
      this.timer.unref();
    }
  }

  async adopt(alias: string, netns?: NetnsRef): Promise<OrphanLink | undefined> {
    if (!this.scanned && netns && !this.orphans.has(alias)) await this.collect(netns);
    else if (!netns) await this.ready;
    const found = this.orphans.get(alias);
    this.orphans.delete(alias);
    if (!this.scanned) this.adopted.add(alias);
    return found;
  }

  async discard(l: OrphanLink): Promise<void> {
    log.info({ link: `${l.netns.path}:${l.name}` }, 'discarding a link of an earlier run');
    await this.opts.dataplane.deleteLink(l.netns, l.name);
    if (l.vni !== undefined) this.opts.vni.release(l.vni);
  }

  async sweep(): Promise<number> {
    const stale = [...this.orphans.entries()];
    this.orphans.clear();
    for (const [alias, l] of stale) {
      await this.opts.dataplane
        .deleteLink(l.netns, l.name)
        .catch((e: unknown) =>
          log.warn({ alias, error: getErrorMessage(e) }, 'failed to delete an unclaimed link'),
        );
      if (l.vni !== undefined) this.opts.vni.release(l.vni);
    }
    if (stale.length > 0) log.info({ deleted: stale.length }, 'deleted links no connection claimed');
    return stale.length;
  }

  get pending(): number {
    return this.orphans.size;
  }

  get remembered(): number {
    return this.adopted.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
