// The registry daemon's configuration: one schema, read from NSM_* environment variables.
import { type ConfigOf, t } from '../sdk/tools/config/index.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const registrySchema = {
  name: t.string({
    env: 'NSM_NAME',
    default: 'registry',
    description: 'Name of this registry, shown in its logs',
  }),
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    default: 'tcp://:5002',
    listen: true,
    description:
      'Address to serve both registries on: tcp://host:port (empty host: all interfaces) or unix:///path',
  }),
  expirePeriodMs: t.duration({
    env: 'NSM_EXPIRE_PERIOD',
    default: '1m',
    min: 1,
    description: 'Lease of an endpoint registration; endpoints not refreshed within it are removed',
  }),
  logLevel: t.enumOf(LOG_LEVELS, {
    env: 'NSM_LOG_LEVEL',
    default: 'info',
    description: `Log level: ${LOG_LEVELS.join(', ')} (case-insensitive)`,
  }),
};

export type RegistryConfig = ConfigOf<typeof registrySchema>;
