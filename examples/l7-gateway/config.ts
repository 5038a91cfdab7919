// The L7 gateway's configuration: the icmp-responder's (it is an endpoint with point-to-point IPAM
// for its clients), plus its routes file, its HTTP port and where HAProxy keeps its files.
import { t } from '../../sdk/tools/config/index.js';
import { icmpResponderSchema } from '../icmp-responder/config.js';

export const l7GatewaySchema = {
  ...icmpResponderSchema,
  name: t.string({
    env: 'NSM_NAME',
    description:
      'Name of this gateway (its endpoint name; its backend connections are NAME-SERVICE-0). Default: l7-gateway-<hostname>.',
  }),
  routesFile: t.string({
    env: 'NSM_L7_ROUTES',
    description:
      'YAML file of Gateway API HTTPRoutes (see examples/l7-gateway/routes.ts); reloaded into HAProxy when it changes.',
    required: true,
  }),
  httpPort: t.int({
    env: 'NSM_L7_PORT',
    description: 'TCP port HAProxy serves HTTP on, on every address of the gateway namespace.',
    default: '80',
    min: 1,
    max: 65535,
  }),
  runDir: t.string({
    env: 'NSM_L7_RUN_DIR',
    description:
      "Directory for haproxy.cfg and HAProxy's stats socket (haproxy.sock). Default: /tmp/nsm-l7-<name>.",
  }),
  haproxy: t.string({
    env: 'NSM_L7_HAPROXY',
    description: 'The HAProxy binary (a name looked up on PATH, or a path).',
    default: 'haproxy',
  }),
  requestTimeout: t.duration({
    env: 'NSM_REQUEST_TIMEOUT',
    description: 'Timeout of one Request for a backend connection.',
    default: '15s',
  }),
};
