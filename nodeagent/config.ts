// The nodeagent's configuration: the nsmgr's variables, the forwarder's own (its tunnel, MTU and
// labels; the same names as the forwarder binary's), and where the forwarder serves other processes.
import { forwarderSchema } from '../forwarder/config.js';
import { nsmgrSchema } from '../nsmgr/config.js';
import { t } from '../sdk/tools/config/index.js';

// Name, socket, nsmgr URL and token lifetime are the nodeagent's own (below) or the nsmgr's.
const {
  name: _name,
  listenOn: _listenOn,
  connectTo: _connectTo,
  maxTokenLifetime: _lifetime,
  ...forwarderOwn
} = forwarderSchema;

export const nodeagentSchema = {
  ...nsmgrSchema,
  forwarderName: t.string({
    env: 'NSM_FORWARDER_NAME',
    description:
      'Name of the forwarder inside; it is registered under this name and marks the links it makes. Default: forwarder-<hostname>.',
  }),
  forwarderListenOn: t.url({
    env: 'NSM_FORWARDER_LISTEN_ON',
    description:
      'Unix socket where the forwarder inside serves other processes (nsmctl); the nsmgr inside calls it without gRPC.',
    default: 'unix:///var/lib/networkservicemesh/forwarder.sock',
    listen: true,
  }),
  ...forwarderOwn,
};
