// Registers the NetworkServices of YAML files (sdk/tools/nsyaml) with a registry, replacing the
// definitions of the same names: `kubectl apply` for the memory registry. Every file is read and
// checked before anything is registered, so a bad file changes nothing.
import type { NetworkService } from '../../api/gen/registry/registry.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNsRegistryClient } from '../../sdk/grpc/registry-client.js';
import { cappedDoubling, retry } from '../../sdk/tools/backoff/index.js';
import { loadNetworkServices } from '../../sdk/tools/nsyaml/index.js';

export interface ApplyOptions {
  registryURL: string;
  files: string[];
  timeoutMs: number;
}

export async function applyFiles(opts: ApplyOptions): Promise<NetworkService[]> {
  if (opts.files.length === 0)
    throw new Error('nsm-apply: no files (give them as arguments or NSM_APPLY_FILES)');
  const services: NetworkService[] = [];
  for (const file of opts.files) services.push(...(await loadNetworkServices(file)));
  const pool = new ClientPool();
  const { ctx, cancel } = withTimeout(background(), opts.timeoutMs);
  try {
    const registry = newNsRegistryClient(opts.registryURL, { pool });
    for (const ns of services) {
      await retry(ctx, () => registry.register(ctx, ns), {
        backoff: cappedDoubling({ initialMs: 100, maxMs: 1_000 }),
      });
    }
    return services;
  } finally {
    cancel();
    await pool.close();
  }
}
