// The hot-plug client: one nsc per NSURL (examples/nsc/client.ts), kept in step with a list that can
// change while the pod runs. The list comes from the pod's annotation as the kubelet writes it into a
// downward-API volume (it rewrites the file, by an atomic symlink swap, when the annotation is edited);
// the file is watched (fs.watch on its directory, plus a poll as a safety net) and every change is
// diffed against the NSURLs held: new ones are connected, dropped ones closed. Connection ids are
// NSM_NAME-<hash of the NSURL>-0, so an entry keeps its connection while others come and go.
//
// Changes are applied one at a time (a queue), and an NSURL that fails to connect is tried again on the
// next poll, so a network service that appears later is picked up.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getErrorMessage } from '../../../sdk/errors/index.js';
import * as excludedprefixes from '../../../sdk/networkservice/excludedprefixes/index.js';
import { logger } from '../../../sdk/tools/log.js';
import { type NscOptions, startNsc } from '../../nsc/client.js';
import { diffUrls, parseAnnotationsFile, urlKey } from './common.js';

export interface HotplugOptions extends Omit<NscOptions, 'networkServices'> {
  /** The NSURLs at start (the webhook's NSM_NETWORK_SERVICES), used until the file says otherwise. */
  initial: string;
  annotationsFile?: string;
  annotation: string;
  pollIntervalMs: number;
  /** Called after each connect or close, with the NSURL (tests, logs). */
  onChange?: (op: 'connected' | 'closed', url: string, ms: number) => void;
}

export interface HotplugClient {
  /** NSURLs connected now. */
  readonly held: string[];
  close(): Promise<void>;
}

type Held = Awaited<ReturnType<typeof startNsc>>;

export async function startHotplug(opts: HotplugOptions): Promise<HotplugClient> {
  const log = logger('nsc-k8s');
  const held = new Map<string, Held>();
  let closed = false;
  let queue = Promise.resolve();
  // One element for all the per-NSURL nscs: they share the pod's namespace, so their connections must
  // be kept apart (or allowed to overlap within an awareness group) across nscs.
  const excludedPrefixes = excludedprefixes.newClient({ awarenessGroups: opts.awarenessGroups });

  const read = (): string => {
    if (!opts.annotationsFile) return opts.initial;
    try {
      return parseAnnotationsFile(fs.readFileSync(opts.annotationsFile, 'utf8'))[opts.annotation] ?? '';
    } catch {
      return opts.initial; // not mounted (yet): what the pod was created with
    }
  };

  const sync = (reason: string) => {
    queue = queue.then(async () => {
      if (closed) return;
      const { add, remove } = diffUrls(held.keys(), read());
      for (const url of remove) {
        const t0 = performance.now();
        const nsc = held.get(url);
        held.delete(url);
        await nsc
          ?.close()
          .catch((e: unknown) => log.warn({ url, error: getErrorMessage(e) }, 'close failed'));
        log.info({ url, reason }, 'closed');
        opts.onChange?.('closed', url, performance.now() - t0);
      }
      await Promise.all(
        add.map(async (url) => {
          const t0 = performance.now();
          try {
            const nsc = await startNsc({
              ...opts,
              name: `${opts.name}-${urlKey(url)}`,
              networkServices: url,
              excludedPrefixes,
            });
            if (closed) return void (await nsc.close());
            held.set(url, nsc);
            for (const conn of nsc.connections)
              process.stdout.write(`${JSON.stringify({ connection: conn })}\n`);
            opts.onChange?.('connected', url, performance.now() - t0);
          } catch (e) {
            log.warn(
              { url, reason, error: getErrorMessage(e) },
              'failed to connect: trying again at the next poll',
            );
          }
        }),
      );
    });
    return queue;
  };

  await sync('start');
  let watcher: fs.FSWatcher | undefined;
  if (opts.annotationsFile) {
    // the kubelet replaces the file through a symlink swap in its directory: watch the directory
    try {
      watcher = fs.watch(path.dirname(opts.annotationsFile), () => void sync('file changed'));
    } catch (e) {
      log.warn({ error: getErrorMessage(e) }, 'cannot watch the annotations file: polling only');
    }
  }
  const poll = setInterval(() => void sync('poll'), opts.pollIntervalMs);
  return {
    get held() {
      return [...held.keys()];
    },
    async close() {
      closed = true;
      clearInterval(poll);
      watcher?.close();
      await queue;
      await Promise.allSettled([...held.values()].map((n) => n.close()));
      held.clear();
    },
  };
}
