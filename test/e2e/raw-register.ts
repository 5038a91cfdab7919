// A raw registry client run inside a pod's namespace (`ip netns exec POD node raw-register.js URL
// OPS`), for tests that need the nsmgr to see a real peer process. OPS is a JSON array, run in order:
//   { op: 'listen', path }            listen on a unix socket (held until the script ends)
//   { op: 'register', name, url }     url "inode-of:PATH" = upstream's inode://DEV/INO of that file
//   { op: 'unregister', name, url }
//   { op: 'find', name }              prints the url the nsmgr answers for that name
//   { op: 'relabel', name, service, labels }  registers the entry found under name again, with
//                                     `labels` for `service` (an endpoint changing its labels)
// Prints one JSON line per op: { op, ok, code?, message?, url? }.
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { status } from '@grpc/grpc-js';
import { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';

interface Op {
  op: 'listen' | 'register' | 'unregister' | 'find' | 'relabel';
  path?: string;
  service?: string;
  labels?: Record<string, string>;
  name?: string;
  url?: string;
}

const [nsmgr, json] = process.argv.slice(2);
const reg = newNseRegistryClient(nsmgr);
const servers: Server[] = [];
const urlOf = (url = '') => {
  if (!url.startsWith('inode-of:')) return url;
  const st = statSync(url.slice('inode-of:'.length), { bigint: true });
  return `inode://${st.dev}/${st.ino}`;
};
for (const o of JSON.parse(json) as Op[]) {
  const { ctx, cancel } = withTimeout(background(), 10_000);
  try {
    if (o.op === 'listen') {
      const s = createServer();
      await new Promise<void>((resolve) => s.listen(o.path, resolve));
      servers.push(s);
      console.log(JSON.stringify({ op: o.op, ok: true }));
    } else if (o.op === 'relabel') {
      let found: NetworkServiceEndpoint | undefined;
      await reg.find(
        ctx,
        { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({ name: o.name }), watch: false },
        (r) => {
          if (r.networkServiceEndpoint?.name === o.name) found = r.networkServiceEndpoint;
        },
      );
      if (!found) throw new Error(`endpoint ${o.name} is not registered`);
      const labels = { ...found.networkServiceLabels, [o.service ?? '']: { labels: o.labels ?? {} } };
      await reg.register(ctx, { ...found, networkServiceLabels: labels });
      console.log(JSON.stringify({ op: o.op, ok: true }));
    } else if (o.op === 'find') {
      let url: string | undefined;
      await reg.find(
        ctx,
        { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({ name: o.name }), watch: false },
        (r) => {
          if (r.networkServiceEndpoint?.name === o.name) url = r.networkServiceEndpoint?.url;
        },
      );
      console.log(JSON.stringify({ op: o.op, ok: url !== undefined, url }));
    } else {
      const nse = NetworkServiceEndpoint.fromPartial({
        name: o.name,
        url: urlOf(o.url),
        networkServiceNames: ['svc'],
      });
      const r = o.op === 'register' ? await reg.register(ctx, nse) : await reg.unregister(ctx, nse);
      console.log(
        JSON.stringify({ op: o.op, ok: true, url: (r as NetworkServiceEndpoint | undefined)?.url }),
      );
    }
  } catch (e) {
    console.log(
      JSON.stringify({ op: o.op, ok: false, code: status[getErrorCode(e)], message: getErrorMessage(e) }),
    );
  } finally {
    cancel();
  }
}
reg.close();
for (const s of servers) s.close();
