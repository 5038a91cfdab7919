// The passthrough CNF's configuration (names after upstream's cmd-nse-* CNFs).
import { hostname } from 'node:os';
import { type ConfigOf, loggingSchema, t } from '../../sdk/tools/config/index.js';
import type { PassthroughOptions } from './server.js';

export const passthroughSchema = {
  name: t.string({
    env: 'NSM_NAME',
    description: 'Name of this CNF (its endpoint name and path segment). Default: passthrough-<hostname>.',
  }),
  connectTo: t.url({
    env: 'NSM_CONNECT_TO',
    description: 'The local nsmgr: it registers there and sends its connections onward through it.',
    default: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    description: 'Where the CNF serves (default: a socket named after NSM_NAME next to the nsmgr socket).',
    listen: true,
  }),
  serviceNames: t.stringList({
    env: 'NSM_SERVICE_NAMES',
    description: 'Network services this CNF serves and passes on (comma-separated).',
    required: true,
  }),
  labels: t.labels({
    env: 'NSM_LABELS',
    description:
      'Labels of this CNF (k1=v1,k2=v2): registered for destination selectors, and put on its requests onward for source selectors.',
    default: '',
  }),
  l2Join: t.enumOf(['mirred', 'bridge'] as const, {
    env: 'NSM_L2_JOIN',
    description:
      'ETHERNET payload: join the two interfaces with a tc mirred redirect pair (measured faster, see README) or a bridge.',
    default: 'mirred',
  }),
  maxTokenLifetime: t.duration({
    env: 'NSM_MAX_TOKEN_LIFETIME',
    description: 'Lifetime of the tokens and expiry this CNF puts on path segments.',
    default: '10m',
  }),
  ...loggingSchema,
};

/** startPassthrough's options from the configuration; `kind` (passthrough, firewall) names it when NSM_NAME is unset. */
export function passthroughOptions(
  config: ConfigOf<typeof passthroughSchema>,
  kind: string,
): PassthroughOptions {
  return {
    name: config.name ?? `${kind}-${hostname()}`,
    connectTo: config.connectTo,
    listenOn: config.listenOn,
    serviceNames: config.serviceNames,
    labels: config.labels,
    l2Join: config.l2Join,
    maxTokenLifetimeMs: config.maxTokenLifetime,
  };
}
