// nsm-apply's configuration: where the registry is, and which files to apply.
import { t } from '../../sdk/tools/config/index.js';
import { identitySchema } from '../../sdk/tools/spiffe/config.js';

export const applySchema = {
  registryURL: t.url({
    env: 'NSM_REGISTRY_URL',
    description: 'The registry (or an nsmgr, which proxies it) the NetworkServices are registered with.',
    default: 'tcp://127.0.0.1:5002',
  }),
  files: t.stringList({
    env: 'NSM_APPLY_FILES',
    description:
      'NetworkService YAML files (upstream CRD shape) to register, comma-separated; file arguments are added to them.',
    default: '',
  }),
  timeout: t.duration({
    env: 'NSM_APPLY_TIMEOUT',
    description: 'How long to keep trying while the registry is not reachable yet.',
    default: '15s',
  }),
  ...identitySchema, // the registry's tcp listener runs mTLS when the mesh has identities
};
