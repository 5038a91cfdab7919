// The firewall CNF's configuration: the passthrough's, plus its rules file.

import { t } from '../../sdk/tools/config/index.js';
import { passthroughSchema } from '../passthrough/config.js';

export const firewallSchema = {
  ...passthroughSchema,
  name: t.string({
    env: 'NSM_NAME',
    description: 'Name of this CNF (its endpoint name and path segment). Default: firewall-<hostname>.',
  }),
  rulesFile: t.string({
    env: 'NSM_FIREWALL_RULES',
    description: 'YAML file of the rules (see examples/firewall/rules.ts); reloaded when it changes.',
    required: true,
  }),
};
