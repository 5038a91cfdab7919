// A raw client run inside a pod's namespace (`ip netns exec POD node raw-client.js URL CASES`), for
// tests that need the nsmgr to see a real peer process in a chosen namespace. CASES is a JSON array
// of { id, service, inodeURL } ("self" = this process's own namespace, by inode); each is
// requested once, and closed again when it succeeded. Prints one JSON line per case:
// { id, ok, code?, message? }.
import { status } from '@grpc/grpc-js';
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { ownNetnsInodeURL } from '../../sdk/kernel/netns.js';

interface RawCase {
  id: string;
  service: string;
  inodeURL: string;
}

const [url, json] = process.argv.slice(2);
const cases = JSON.parse(json) as RawCase[];
const pool = new ClientPool();
for (const c of cases) {
  const { ctx, cancel } = withTimeout(background(), 15_000);
  try {
    const conn = await pool.request(ctx, url, {
      connection: Connection.fromPartial({ id: c.id, networkService: c.service }),
      mechanismPreferences: [
        {
          cls: 'LOCAL',
          type: 'KERNEL',
          parameters: { name: 'nsm-1', inodeURL: c.inodeURL === 'self' ? ownNetnsInodeURL() : c.inodeURL },
        },
      ],
    });
    await pool.closeConnection(ctx, url, conn);
    console.log(JSON.stringify({ id: c.id, ok: true }));
  } catch (e) {
    const code = getErrorCode(e);
    console.log(JSON.stringify({ id: c.id, ok: false, code: status[code], message: getErrorMessage(e) }));
  } finally {
    cancel();
  }
}
await pool.close();
