// The vl3-ipam daemon's configuration: one schema, read from NSM_* environment variables.
import { type ConfigOf, loggingSchema, t } from '../sdk/tools/config/index.js';

export const vl3IpamSchema = {
  listenOn: t.url({
    env: 'NSM_LISTEN_ON',
    default: 'tcp://:5006',
    listen: true,
    description: 'Where to serve ipam.IPAM/ManagePrefixes: tcp://host:port or unix:///path',
  }),
  prefix: t.string({
    env: 'NSM_PREFIX',
    default: '172.16.0.0/16',
    description: 'The vL3 network prefix that the vL3 endpoints share',
  }),
  sliceLength: t.int({
    env: 'NSM_SLICE_PREFIX_LENGTH',
    default: '24',
    min: 1,
    max: 128,
    description: 'Prefix length of the slice each vL3 endpoint replica gets',
  }),
  leaseMs: t.duration({
    env: 'NSM_SLICE_LEASE',
    default: '10m',
    description:
      'How long a slice stays reserved for a replica whose stream ended, so that the replica restarted under its name gets it back',
  }),
  ...loggingSchema,
};

export type Vl3IpamConfig = ConfigOf<typeof vl3IpamSchema>;
