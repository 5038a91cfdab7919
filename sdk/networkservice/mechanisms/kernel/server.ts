// The endpoint's KERNEL mechanism: accepts a KERNEL preference and answers with the namespace the
// endpoint's interface must go into (its own) and the interface name, so the forwarder can create
// the endpoint end of the connection there. NOOP is accepted too (no kernel interface).
import type { Mechanism } from '../../../../api/gen/networkservice/connection.js';
import type { Context } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../../core/types.js';
import { invalidArgument } from '../../../errors/index.js';
import { ownNetnsInodeURL } from '../../../kernel/index.js';
import * as metadata from '../../metadata/index.js';
import {
  CLS_LOCAL,
  describeTypes,
  generateInterfaceName,
  KERNEL,
  mechanism,
  PARAM_INODE_URL,
  PARAM_NAME,
  validateInterfaceName,
} from '../common.js';

const CHOSEN_KEY = Symbol('kernel-server-mechanism');

class KernelServer implements NetworkServiceServer {
  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    // A refresh keeps the interface name chosen before, even from a restarted forwarder that forgot it.
    const current =
      (conn.mechanism?.type === KERNEL ? conn.mechanism : undefined) ??
      metadata.load<Mechanism>(ctx, false, CHOSEN_KEY);
    const preferred = req.mechanismPreferences.find((m) => m.type === KERNEL);
    if (!current && !preferred) {
      throw invalidArgument(
        `no supported mechanism in mechanism_preferences (got ${describeTypes(req.mechanismPreferences)}; this endpoint supports ${KERNEL})`,
      );
    }
    const name = current?.parameters[PARAM_NAME] || preferred?.parameters[PARAM_NAME] || '';
    validateInterfaceName(name, 'mechanism parameter "name"');
    conn.mechanism = mechanism(CLS_LOCAL, KERNEL, {
      ...(preferred?.parameters ?? {}),
      ...(current?.parameters ?? {}),
      [PARAM_NAME]: name || generateInterfaceName(conn.networkService),
      [PARAM_INODE_URL]: ownNetnsInodeURL(),
    });
    const result = await next.server(ctx).request(ctx, req);
    metadata.store(ctx, false, CHOSEN_KEY, conn.mechanism);
    return result;
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(): NetworkServiceServer {
  return new KernelServer();
}
