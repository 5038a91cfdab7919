// A registry client with an identity, run inside a node's namespace (`ip netns exec NODE node
// raw-registry.js URL OPS`, the SVID files in NSM_CERT_FILE, NSM_KEY_FILE, NSM_BUNDLE_FILE), for
// tests that call the registry over mTLS as a chosen SPIFFE ID (the sandbox's tcp addresses are
// reachable from its namespaces only). OPS is a JSON array, run in order:
//   { op: 'list' }                                   every endpoint and service (lease times left out)
//   { op: 'lease', name }                            the endpoint's expiration time (epoch ms)
//   { op: 'register-nse', name, url, services }      { op: 'unregister-nse', name }
//   { op: 'register-ns', name, payload }             { op: 'unregister-ns', name }
// Prints one JSON line per op: { op, ok, code?, message?, entries?, lease? }.
import { status } from '@grpc/grpc-js';
import { NetworkService, NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../../sdk/grpc/registry-client.js';
import { openIdentity } from '../../sdk/tools/spiffe/config.js';

interface Op {
  op: 'list' | 'lease' | 'register-nse' | 'unregister-nse' | 'register-ns' | 'unregister-ns';
  name?: string;
  url?: string;
  services?: string[];
  payload?: string;
}

const [url, json] = process.argv.slice(2);
const identity = await openIdentity({
  certFile: process.env.NSM_CERT_FILE,
  keyFile: process.env.NSM_KEY_FILE,
  bundleFile: process.env.NSM_BUNDLE_FILE,
  insecure: false,
});
const pool = new ClientPool({ security: identity.security });
const nseReg = newNseRegistryClient(url, { pool });
const nsReg = newNsRegistryClient(url, { pool });

for (const o of JSON.parse(json) as Op[]) {
  const { ctx, cancel } = withTimeout(background(), 10_000);
  try {
    if (o.op === 'list' || o.op === 'lease') {
      const entries: string[] = [];
      let lease = 0;
      await nseReg.find(
        ctx,
        { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({}), watch: false },
        (r) => {
          const e = r.networkServiceEndpoint!;
          if (e.name === o.name) lease = e.expirationTime?.getTime() ?? 0;
          entries.push(`nse ${e.name} ${e.url} ${e.networkServiceNames.join(',')}`);
        },
      );
      await nsReg.find(ctx, { networkService: NetworkService.fromPartial({}), watch: false }, (r) =>
        entries.push(`ns ${JSON.stringify(r.networkService)}`),
      );
      console.log(JSON.stringify({ op: o.op, ok: true, entries: entries.sort(), lease }));
    } else {
      const nse = NetworkServiceEndpoint.fromPartial({
        name: o.name,
        url: o.url ?? '',
        networkServiceNames: o.services ?? [],
      });
      const ns = NetworkService.fromPartial({ name: o.name, payload: o.payload ?? '' });
      if (o.op === 'register-nse') await nseReg.register(ctx, nse);
      else if (o.op === 'unregister-nse') await nseReg.unregister(ctx, nse);
      else if (o.op === 'register-ns') await nsReg.register(ctx, ns);
      else await nsReg.unregister(ctx, ns);
      console.log(JSON.stringify({ op: o.op, ok: true }));
    }
  } catch (e) {
    console.log(
      JSON.stringify({ op: o.op, ok: false, code: status[getErrorCode(e)], message: getErrorMessage(e) }),
    );
  } finally {
    cancel();
  }
}
await pool.close();
await identity.close();
