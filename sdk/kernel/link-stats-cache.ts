// Traffic counters of many links, one `ip -s -json link show` per namespace shared by every caller.
// The stats element reads two links per connection on every refresh; asking iproute2 per link cost
// a process per link, and the endpoint's namespace, which holds one link per connection, was read
// once per connection. Here a namespace's links are read together, and that read answers every
// caller for `maxAgeMs` (and callers that ask while it runs wait for it): a busy namespace costs at
// most one process per period whatever the number of connections in it (1000 connections refreshing
// every few minutes ask about 5 times a second). A pod's namespace holds one link, so a pod still
// costs one read per refresh of its connection: the one process left per connection. A name missing from a read that is
// older than the caller's own request (a link made since) gets one fresh read before NOT_FOUND.
import { notFound } from '../errors/index.js';
import type { LinkStats } from './ip-json.js';
import type { IpRunner, NetnsRef } from './iproute2.js';

/** How long one namespace's counters answer (the stats element's counters are at most this old). */
export const DEFAULT_STATS_MAX_AGE_MS = 1_000;
/** Entries beyond this are swept of expired reads (a node has one namespace per pod). */
const SWEEP_ABOVE = 256;

interface JsonStatsDir {
  bytes?: number;
  packets?: number;
  dropped?: number;
}

interface JsonLinkStats {
  ifname?: string;
  ifalias?: string;
  stats64?: { rx?: JsonStatsDir; tx?: JsonStatsDir };
}

export function toLinkStats(l: JsonLinkStats | undefined): LinkStats {
  const rx = l?.stats64?.rx ?? {};
  const tx = l?.stats64?.tx ?? {};
  return {
    alias: l?.ifalias,
    rxBytes: rx.bytes ?? 0,
    txBytes: tx.bytes ?? 0,
    rxPackets: rx.packets ?? 0,
    txPackets: tx.packets ?? 0,
    rxDropped: rx.dropped ?? 0,
    txDropped: tx.dropped ?? 0,
  };
}

interface Read {
  startedAt: number;
  links: Promise<Map<string, LinkStats>>;
}

export interface LinkStatsCacheOptions {
  /** Default DEFAULT_STATS_MAX_AGE_MS. */
  readonly maxAgeMs?: number;
  /** Milliseconds clock (tests). */
  readonly now?: () => number;
}

export class LinkStatsCache {
  private readonly reads = new Map<string, Read>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly runner: IpRunner,
    opts: LinkStatsCacheOptions = {},
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_STATS_MAX_AGE_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * The counters of link `name` in `netns`; NOT_FOUND when the namespace has no such link. The read
   * is shared, so one caller's signal does not cancel it (iproute2's own timeout bounds it).
   */
  async read(netns: NetnsRef | null, name: string): Promise<LinkStats> {
    const asked = this.now();
    let read = this.current(netns, asked);
    let s = (await read.links).get(name);
    if (!s && read.startedAt < asked) {
      read = this.fresh(netns, this.now());
      s = (await read.links).get(name);
    }
    if (!s) throw notFound(`no link ${name} in ${netns?.path ?? 'the current network namespace'}`);
    return s;
  }

  private current(netns: NetnsRef | null, now: number): Read {
    const r = this.reads.get(netns?.path ?? '');
    return r && now - r.startedAt < this.maxAgeMs ? r : this.fresh(netns, now);
  }

  private fresh(netns: NetnsRef | null, now: number): Read {
    const key = netns?.path ?? '';
    if (this.reads.size >= SWEEP_ABOVE) this.sweep(now);
    const links = this.runner
      .json<JsonLinkStats[]>(netns, ['-s', 'link', 'show'])
      .then((all) => new Map(all.filter((l) => l.ifname).map((l) => [l.ifname as string, toLinkStats(l)])));
    const read = { startedAt: now, links };
    this.reads.set(key, read);
    // A failed read (the namespace is gone, the caller aborted) answers only its own callers.
    links.catch(() => {
      if (this.reads.get(key) === read) this.reads.delete(key);
    });
    return read;
  }

  private sweep(now: number): void {
    for (const [k, r] of this.reads) if (now - r.startedAt >= this.maxAgeMs) this.reads.delete(k);
  }
}
