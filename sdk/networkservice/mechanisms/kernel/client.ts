// The client's KERNEL mechanism: asks for an interface named after the NSURL (or generated) in
// the client's own network namespace, described by its inode because we cannot pass the
// namespace's file descriptor (see sdk/kernel/README.md).
import type { Context } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../../core/types.js';
import { ownNetnsInodeURL } from '../../../kernel/index.js';
import {
  CLS_LOCAL,
  KERNEL,
  mechanism,
  PARAM_INODE_URL,
  PARAM_NAME,
  validateInterfaceName,
} from '../common.js';

export interface KernelClientOptions {
  interfaceName?: string;
  /** Defaults to the calling process's own namespace. */
  inodeURL?: string;
}

class KernelClient implements NetworkServiceClient {
  constructor(private readonly opts: KernelClientOptions) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const inodeURL = this.opts.inodeURL ?? ownNetnsInodeURL();
    const existing = req.mechanismPreferences.find((m) => m.type === KERNEL);
    if (existing) {
      existing.parameters[PARAM_INODE_URL] ||= inodeURL;
      if (this.opts.interfaceName) existing.parameters[PARAM_NAME] ||= this.opts.interfaceName;
    } else {
      const params: Record<string, string> = { [PARAM_INODE_URL]: inodeURL };
      if (this.opts.interfaceName) params[PARAM_NAME] = this.opts.interfaceName;
      req.mechanismPreferences.push(mechanism(CLS_LOCAL, KERNEL, params));
    }
    return next.client(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.client(ctx).close(ctx, conn);
  }
}

export function newClient(opts: KernelClientOptions = {}): NetworkServiceClient {
  if (opts.interfaceName) validateInterfaceName(opts.interfaceName, 'interface name');
  return new KernelClient(opts);
}
