// Shared set-up of the begin tests (not exported from index.ts): an element that grabs the event
// factory begin puts into the context, an endpoint that answers with numbered connections, and
// the timer tracking around each test.
import { Connection } from '../../../api/gen/networkservice/connection.js';
import * as next from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { type TimerTracker, trackTimers } from '../../testing/timers.js';
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

/**
 * Events run with a fresh context; the timers they make are tracked around each test (mocha hooks of
 * the calling describe) so none is left behind. Returns the tracker of the running test.
 */
export function trackEventTimers(): { pending(): number } {
  let timers: TimerTracker;
  beforeEach(() => {
    timers = trackTimers();
  });
  afterEach(() => {
    timers.restore();
    // BUG (see 'leaves no timer behind after an event', server.events.test.ts): clear what events leaked so the run ends.
    timers.clearAll();
  });
  return { pending: () => timers.pending() };
}
