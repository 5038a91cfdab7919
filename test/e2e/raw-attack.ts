// An attacker run inside a pod's namespace (`ip netns exec POD node raw-attack.js URL SERVICE VICTIMS`),
// for the connection ownership e2e test: it sets up a connection of its own, then tries what issue 10
// found working: an empty-selector MonitorConnections, and replaying each victim connection (JSON
// array of Connections, as a client or the nsmgr's monitor shows them) in a Close, in a Close that
// carries only the first path segment, and in a Request with its own KERNEL mechanism. It closes its
// own connection at the end. Prints one JSON line per step: { step, ok, code?, message?, ids? }.
import { status } from '@grpc/grpc-js';
import {
  type Connection,
  Connection as ConnectionCodec,
  ConnectionEventType,
} from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { ownNetnsInodeURL } from '../../sdk/kernel/netns.js';

const [url, service, json] = process.argv.slice(2);
const victims = (JSON.parse(json) as unknown[]).map((v) => ConnectionCodec.fromJSON(v));
const pool = new ClientPool();
const own = [{ cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-x', inodeURL: ownNetnsInodeURL() } }];

async function step(name: string, fn: () => Promise<Record<string, unknown> | undefined>): Promise<void> {
  try {
    const extra = (await fn()) ?? {};
    console.log(JSON.stringify({ step: name, ok: true, ...extra }));
  } catch (e) {
    console.log(
      JSON.stringify({ step: name, ok: false, code: status[getErrorCode(e)], message: getErrorMessage(e) }),
    );
  }
}

function call<T>(fn: (ctx: ReturnType<typeof withTimeout>['ctx']) => Promise<T>): Promise<T> {
  const { ctx, cancel } = withTimeout(background(), 15_000);
  return fn(ctx).finally(cancel);
}

/** The ids an empty-selector MonitorConnections shows in its INITIAL_STATE_TRANSFER. */
function monitorIds(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const stream = pool.monitor(
      url,
      { pathSegments: [], networkServices: [] },
      (ev) => {
        if (ev.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) return;
        void stream.close();
        resolve(Object.values(ev.connections).map((c) => c.path?.pathSegments[0]?.id ?? c.id));
      },
      reject,
    );
  });
}

let mine: Connection | undefined;
await step('own-request', async () => {
  mine = await call((ctx) =>
    pool.request(ctx, url, {
      connection: ConnectionCodec.fromPartial({ id: 'attacker-own', networkService: service }),
      mechanismPreferences: own,
    }),
  );
  return { id: mine.id };
});
await step('monitor', async () => ({ ids: await monitorIds() }));
for (const [i, victim] of victims.entries()) {
  await step(`close-${i}`, () =>
    call((ctx) => pool.closeConnection(ctx, url, structuredClone(victim))).then(() => undefined),
  );
  const first = structuredClone(victim);
  first.path!.pathSegments = first.path!.pathSegments.slice(0, 1);
  first.path!.index = 0;
  first.id = first.path!.pathSegments[0]?.id ?? first.id;
  await step(`close-first-${i}`, () =>
    call((ctx) => pool.closeConnection(ctx, url, first)).then(() => undefined),
  );
  await step(`request-${i}`, async () => {
    const got = await call((ctx) =>
      pool.request(ctx, url, { connection: structuredClone(victim), mechanismPreferences: own }),
    );
    return { id: got.id };
  });
}
if (mine)
  await step('own-close', () => call((ctx) => pool.closeConnection(ctx, url, mine!)).then(() => undefined));
await pool.close();
