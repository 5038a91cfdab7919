// nsm-apply: `node dist/registry/apply/main.js FILE...` registers the NetworkServices in the files
// (upstream CRD shape, see sdk/tools/nsyaml) and prints one line per service. Exit code 0 on
// success, 2 for bad configuration or a bad file (the message names file, line and field), 1 else.
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { CONFIG_EXIT_CODE, loadConfig } from '../../sdk/tools/config/index.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { applyFiles } from './apply.js';
import { applySchema } from './config.js';

try {
  const config = loadConfig(applySchema);
  const session = await withIdentity(config, async () => {
    const services = await applyFiles({
      registryURL: config.registryURL,
      files: [...config.files, ...process.argv.slice(2)],
      timeoutMs: config.timeout,
    });
    for (const ns of services)
      process.stdout.write(`networkservice/${ns.name} applied (${ns.matches.length} matches)\n`);
    return { close: async () => {} };
  });
  await session.close();
} catch (e) {
  process.stderr.write(`nsm-apply: ${getErrorMessage(e)}\n`);
  process.exitCode = getErrorCode(e) === 3 || (e as { env?: string }).env ? CONFIG_EXIT_CODE : 1;
}
