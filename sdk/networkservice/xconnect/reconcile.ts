// Restart reconciliation. A forwarder marks every link it makes with an alias
// "nsm:<owner>:<connection id>:<side>", where <owner> is "<forwarder name>@<tunnel IP>". When it
// starts, it scans every network namespace it can see for links with its own mark: those belong to
// connections it served before it was restarted. They keep carrying traffic untouched; when their
// connection is refreshed or re-requested, xconnect adopts them instead of creating new ones. What
// no connection claims within the grace period is deleted, and the VNIs of adopted or deleted
// VXLAN links are kept consistent with the kernel.
import { readdirSync, statSync } from 'node:fs';
import { getErrorMessage } from '../../errors/index.js';
import type { IpRunner, NetnsRef } from '../../kernel/index.js';
import { logger } from '../../tools/log.js';
import type { VniAllocator } from '../mechanisms/vxlan/vni.js';

const log = logger('reconcile');
const SCAN_CONCURRENCY = 8;

export interface OrphanLink {
  netns: NetnsRef;
  name: string;
  kind?: string;
  vni?: number;
}

interface JsonLink {
  ifname: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
}

export function ownerTag(name: string, tunnelIP: string): string {
  return `${name}@${tunnelIP}`;
}

export function linkAlias(owner: string, connId: string, side: 'client' | 'endpoint'): string {
  return `nsm:${owner}:${connId}:${side}`;
}

/** Every network namespace this process can see, one path per namespace (named ones first). */
export function visibleNamespaces(): NetnsRef[] {
  const seen = new Set<string>();
  const out: NetnsRef[] = [];
  const add = (path: string) => {
    try {
      const st = statSync(path);
      const key = `${st.dev}/${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ path });
    } catch {
      // gone, or not ours to see
    }
  };
  add('/proc/self/ns/net');
  for (const dir of ['/var/run/netns']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) add(`${dir}/${n}`);
  }
  for (const pid of readdirSync('/proc')) if (/^\d+$/.test(pid)) add(`/proc/${pid}/ns/net`);
  return out;
}

export class Reconciler {
  private readonly orphans = new Map<string, OrphanLink>();
  private timer?: NodeJS.Timeout;
  readonly ready: Promise<void>;

  constructor(
    private readonly runner: IpRunner,
    private readonly owner: string,
    private readonly vni: VniAllocator,
    private readonly deleteLink: (netns: NetnsRef, name: string) => Promise<void>,
    private readonly graceMs: number,
  ) {
    this.ready = this.scan().catch((e: unknown) => log.warn({ error: getErrorMessage(e) }, 'scan failed'));
  }

  private scanned = false;
  /** Aliases already adopted, so the background scan does not list them again. */
  private readonly adopted = new Set<string>();

  /** Records our links found in one namespace (and claims their VNIs). */
  private async collect(netns: NetnsRef): Promise<void> {
    const prefix = `nsm:${this.owner}:`;
    const ref = netns.path === '/proc/self/ns/net' ? null : netns;
    const links = await this.runner.json<JsonLink[]>(ref, ['-d', 'link', 'show']).catch(() => []);
    for (const l of links) {
      if (!l.ifalias?.startsWith(prefix) || this.adopted.has(l.ifalias)) continue;
      const vni = l.linkinfo?.info_kind === 'vxlan' ? l.linkinfo.info_data?.id : undefined;
      this.orphans.set(l.ifalias, { netns, name: l.ifname, kind: l.linkinfo?.info_kind, vni });
      if (vni !== undefined && !this.vni.has(vni)) this.vni.claim(vni);
    }
  }

  private async scan(): Promise<void> {
    const namespaces = visibleNamespaces();
    let next = 0;
    const worker = async () => {
      while (next < namespaces.length) await this.collect(namespaces[next++]);
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    this.scanned = true;
    log.info(
      { found: this.orphans.size, namespaces: namespaces.length },
      'scanned for links of an earlier run',
    );
    if (this.orphans.size > 0) {
      this.timer = setTimeout(() => void this.sweep(), this.graceMs);
      this.timer.unref();
    }
  }

  /**
   * Takes the link left by an earlier run under this alias, if any. `netns` is where the link
   * would be: while the full scan is still running (it can take seconds on a host with thousands
   * of namespaces), that namespace is looked at right away instead of waiting for the scan.
   */
  async adopt(alias: string, netns?: NetnsRef): Promise<OrphanLink | undefined> {
    if (!this.scanned && netns && !this.orphans.has(alias)) await this.collect(netns);
    else if (!netns) await this.ready;
    const found = this.orphans.get(alias);
    this.orphans.delete(alias);
    this.adopted.add(alias);
    return found;
  }

  /** Deletes what no connection claimed within the grace period. */
  async sweep(): Promise<number> {
    const stale = [...this.orphans.entries()];
    this.orphans.clear();
    for (const [alias, l] of stale) {
      await this.deleteLink(l.netns, l.name).catch((e: unknown) =>
        log.warn({ alias, error: getErrorMessage(e) }, 'failed to delete an unclaimed link'),
      );
      if (l.vni !== undefined) this.vni.release(l.vni);
    }
    if (stale.length > 0) log.info({ deleted: stale.length }, 'deleted links no connection claimed');
    return stale.length;
  }

  get pending(): number {
    return this.orphans.size;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
  }
}
