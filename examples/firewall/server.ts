// The firewall CNF: a passthrough (examples/passthrough) whose namespace filters what it forwards
// with nftables rules from a YAML file (rules.ts). The rules are loaded before the CNF registers (a
// bad file stops the start, naming file, line and field), and again whenever the file changes; a
// bad edit is logged and the rules in force stay. The counters are read with `nft` in the CNF's
// namespace (counters.ts prints them).
import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { background, type Context } from '../../sdk/core/context.js';
import { getErrorMessage } from '../../sdk/errors/index.js';
import { closeOnce, disposable } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';
import { type Cnf, type PassthroughOptions, startPassthrough } from '../passthrough/server.js';
import { type Nft, newNft } from './nft.js';
import { parseRules, type Ruleset, renderRuleset } from './rules.js';

const log = logger('firewall');
/** Editors write a file in several steps: one reload after the last event. */
export const RELOAD_DEBOUNCE_MS = 100;

export interface FirewallOptions extends PassthroughOptions {
  rulesFile: string;
  nft?: Nft;
}

export async function loadRules(file: string, nft: Nft): Promise<Ruleset> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`failed to read rules file ${file}: ${getErrorMessage(e)}`);
  }
  const rules = parseRules(text, file);
  await nft.load(renderRuleset(rules));
  return rules;
}

export async function startFirewall(opts: FirewallOptions, base: Context = background()): Promise<Cnf> {
  const nft = opts.nft ?? newNft();
  const first = await loadRules(opts.rulesFile, nft);
  log.info({ file: opts.rulesFile, rules: first.rules.length, default: first.default }, 'rules loaded');
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        const rs = await loadRules(opts.rulesFile, nft);
        log.info({ file: opts.rulesFile, rules: rs.rules.length, default: rs.default }, 'rules reloaded');
      } catch (e) {
        log.error(
          { file: opts.rulesFile, error: getErrorMessage(e) },
          'rules not reloaded; the previous rules stay',
        );
      }
    });
  };
  // The directory, not the file: an editor's rename-over-the-old-file ends a watch on the file itself.
  const watcher = watch(dirname(opts.rulesFile), (_event, name) => {
    if (name !== basename(opts.rulesFile)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, RELOAD_DEBOUNCE_MS);
  });
  let cnf: Cnf;
  try {
    cnf = await startPassthrough({ ...opts, kind: 'firewall' }, base);
  } catch (e) {
    watcher.close();
    await nft.remove();
    throw e;
  }
  return disposable({
    name: cnf.name,
    url: cnf.url,
    monitor: cnf.monitor,
    close: closeOnce(async () => {
      watcher.close();
      clearTimeout(timer);
      await reloading;
      await cnf.close();
      await nft.remove();
    }),
  });
}
