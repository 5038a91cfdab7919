// unregisterdead (nsmgr) takes a local endpoint out of the registry as soon as a connection through
// it is asked to reselect because the endpoint process is gone. Until its lease ran out, the dead
// endpoint stayed a candidate: half of the reselects that followed (roundrobin rotates) tried it
// first, crossing every hop to its refused socket and back before the live replica was tried. In
// a CNF chain that cost ~400 ms of a heal under load.
// Only a reselect triggers it: the forwarder asks for one when the endpoint's socket refuses
// connections *and* another endpoint serves the service (monitor/relay.ts). A sole endpoint that
// died stays registered, so its clients keep repairing the connection until it is back.
// The nsmgr unregisters under its own identity, as it registered the endpoint (localbypass); the
// endpoint registers again when it restarts.
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import type { NseRegistry } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { unixListenerGone } from '../../networkservice/monitor/index.js';
import { logger } from '../../tools/log.js';

const log = logger('unregisterdead');

export interface UnregisterDeadOptions {
  /** The nsmgr's own NSE registry chain: the unregister takes the same path as the endpoint's would. */
  registry: Pick<NseRegistry, 'unregister'>;
  /** The socket URL a local endpoint registered through this nsmgr with (localbypass); else undefined. */
  localURL: (name: string) => string | undefined;
  /** Whether nobody listens on the socket any more (default: a connect is refused or the file is gone). */
  gone?: (url: string) => Promise<boolean>;
}

/**
 * Returns the function to call with a connection whose next hop asked for a reselect; it checks
 * the connection's endpoint, if local, and unregisters it when its socket is dead. Calls for many
 * connections of one endpoint (all its clients reselect at once) check and unregister it once.
 */
export function newDeadEndpointCheck(opts: UnregisterDeadOptions): (conn: Connection) => void {
  const gone = opts.gone ?? unixListenerGone;
  const checking = new Set<string>();
  return (conn) => {
    const name = conn.networkServiceEndpointName;
    const url = name ? opts.localURL(name) : undefined;
    if (!url || checking.has(name)) return;
    checking.add(name);
    void (async () => {
      try {
        if (!(await gone(url).catch(() => false))) return;
        await opts.registry.unregister(background(), NetworkServiceEndpoint.fromPartial({ name, url }));
        log.info({ endpoint: name, url }, 'unregistered a dead local endpoint');
      } catch (e) {
        log.warn(
          { endpoint: name, url, error: getErrorMessage(e) },
          'failed to unregister a dead local endpoint',
        );
      } finally {
        checking.delete(name);
      }
    })();
  };
}
