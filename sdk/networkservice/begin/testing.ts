// Shared set-up of the begin tests (not exported from index.ts): an element that grabs the event
// factory begin puts into the context, and an endpoint that answers with numbered connections.
import { Connection } from '../../../api/gen/networkservice/connection.js';
import * as next from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import * as begin from './index.js';

export const kernel = { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } };

/** Grabs the event factory begin puts into the context. */
export function grab(): NetworkServiceElement & { factory?: begin.EventFactory } {
  const el: NetworkServiceElement & { factory?: begin.EventFactory } = {
    request(ctx, req) {
      el.factory = begin.fromContext(ctx);
      return next.server(ctx).request(ctx, req);
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
  return el;
}

/** Answers every request with a connection that carries a mechanism and an increasing label. */
export function answering(): NetworkServiceElement {
  let n = 0;
  return {
    async request(_ctx, req) {
      n++;
      return Connection.fromPartial({ ...req.connection, mechanism: kernel, labels: { answer: String(n) } });
    },
    close: async () => {},
  };
}
