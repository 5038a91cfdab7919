// dnscontext (client) applies the dns_context of the client's connections without breaking the pod's
// own DNS: while any connection carries DNS configs, a forwarder listens on 127.0.0.1:53 in the pod's
// namespace and the resolv.conf at `resolvConfPath` names it, with the mesh's search domains first.
// Names under a mesh domain go to that domain's servers, everything else to the nameservers the file
// had before; the old file comes back when the last such connection closes. (Sandbox namespaces:
// `/etc/netns/<name>/resolv.conf`, which `ip netns exec` mounts over /etc/resolv.conf.)
// Chain placement: in the client chain, before connect (it acts on the answer).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { DNSConfig } from '../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { logger } from '../../tools/log.js';
import { type Forwarder, type Route, startForwarder } from './forwarder.js';
import { parseResolvConf, renderResolvConf } from './resolv-conf.js';

const log = logger('dnscontext');

export interface DnsContextClientOptions {
  /** The file the pod's resolver reads. */
  readonly resolvConfPath: string;
  /** Where the pod's nameservers come from when `resolvConfPath` does not exist yet (default /etc/resolv.conf). */
  readonly originalPath?: string;
  /** Forwarder address (default 127.0.0.1:53). */
  readonly host?: string;
  readonly port?: number;
}

class DnsContextClient implements NetworkServiceClient {
  /** Shared across connections by design: the one resolv.conf holds all of them. */
  private readonly configs = new Map<string, DNSConfig[]>();
  private forwarder: Promise<Forwarder> | undefined;
  private original:
    | { text: string | undefined; nameservers: string[]; search: string[]; options: string[] }
    | undefined;

  constructor(private readonly opts: DnsContextClientOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.client(ctx).request(ctx, req);
    const configs = conn.context?.dnsContext?.configs ?? [];
    if (configs.length > 0) {
      this.configs.set(conn.id, configs);
      await this.apply();
    } else if (this.configs.delete(conn.id)) {
      await this.apply();
    }
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.client(ctx).close(ctx, conn);
    } finally {
      if (this.configs.delete(conn.id)) await this.apply();
    }
  }

  private routes(): Route[] {
    const out: Route[] = [];
    for (const list of this.configs.values())
      for (const c of list) for (const d of c.searchDomains) out.push({ domain: d, servers: c.dnsServerIps });
    return out;
  }

  private async apply(): Promise<void> {
    const path = this.opts.resolvConfPath;
    if (this.configs.size === 0) {
      if (!this.original) return;
      const { text } = this.original;
      this.original = undefined;
      if (text === undefined) rmSync(path, { force: true });
      else writeFileSync(path, text);
      const f = this.forwarder;
      this.forwarder = undefined;
      await (await f)?.close();
      log.info({ path }, 'mesh DNS removed');
      return;
    }
    if (!this.original) {
      const text = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
      const source = text ?? readIfExists(this.opts.originalPath ?? '/etc/resolv.conf');
      this.original = { text, ...parseResolvConf(source) };
    }
    const original = this.original;
    this.forwarder ??= startForwarder({
      host: this.opts.host ?? '127.0.0.1',
      port: this.opts.port ?? 53,
      routes: () => this.routes(),
      fallback: () => original.nameservers,
    });
    await this.forwarder;
    const meshDomains = [...new Set(this.routes().map((r) => r.domain))];
    writeFileSync(
      path,
      renderResolvConf({
        nameservers: [this.opts.host ?? '127.0.0.1'],
        search: [...meshDomains, ...original.search.filter((s) => !meshDomains.includes(s))],
        options: original.options,
      }),
    );
    log.info({ path, domains: meshDomains }, 'mesh DNS applied');
  }
}

function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One per client process (one resolv.conf). */
export function newClient(opts: DnsContextClientOptions): NetworkServiceClient {
  if (!opts?.resolvConfPath) throw new TypeError('dnscontext.newClient: resolvConfPath is required');
  return new DnsContextClient(opts);
}
