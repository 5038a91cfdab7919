// discover finds the endpoints that can serve a request, for roundrobin to choose from. It runs
// in the forwarder (as upstream), asking the local nsmgr's registry, which answers local endpoints
// with their own socket URL and remote ones with their node's nsmgr URL.
//  - A request that names its endpoint (a refresh, or a remote hop) gets exactly that endpoint.
//  - Otherwise: the NetworkService's matches pick candidates by labels (matchutils), with the
//    weights of their routes for roundrobin, and the service's payload is copied into the connection.
//  - A reselect (RESELECT_REQUESTED) asks the registry afresh: the cached answer may be what made
//    the old choice wrong (a NetworkService or endpoint labels changed a moment ago).
//  - An endpoint already on the request's path (a CNF chain routed back to a hop it passed) is never a
//    candidate: a request passes each endpoint once. When that leaves nothing, the request is refused
//    naming the loop.
import { State } from '../../../api/gen/networkservice/connection.js';
import type { Match, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { failedPrecondition, invalidArgument, notFound } from '../../errors/index.js';
import { selectEndpoints } from '../../tools/matchutils/index.js';
import type { Finder } from './common.js';
import { selectedEndpoint, withCandidates } from './metadata.js';

export const DEFAULT_PAYLOAD = 'ETHERNET';

class DiscoverServer implements NetworkServiceServer {
  constructor(private readonly finder: Finder) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    if (!conn.networkService) throw invalidArgument('connection.network_service is empty');
    const nseName = conn.networkServiceEndpointName;
    // A refresh of a connection to a known endpoint needs no registry: a registry restart must not
    // touch working connections.
    const known = nseName ? selectedEndpoint(ctx) : undefined;
    if (known && known.name === nseName) {
      conn.payload ||= DEFAULT_PAYLOAD;
      const nse: NetworkServiceEndpoint = {
        name: known.name,
        url: known.url,
        networkServiceNames: [conn.networkService],
        networkServiceLabels: {},
        expirationTime: undefined,
        initialRegistrationTime: undefined,
        pathIds: [],
      };
      return next.server(ctx).request(withCandidates(ctx, [nse]), req);
    }
    if (nseName) {
      const found = await this.finder.endpoints(ctx, { name: nseName });
      const nse = found.find((e) => e.name === nseName);
      if (!nse) {
        throw notFound(
          `network service endpoint "${nseName}" (for service "${conn.networkService}") not found`,
        );
      }
      conn.payload ||= DEFAULT_PAYLOAD;
      return next.server(ctx).request(withCandidates(ctx, [nse]), req);
    }
    const findOpts = { fresh: conn.state === State.RESELECT_REQUESTED };
    const [ns, nses] = await Promise.all([
      this.finder.networkService(ctx, conn.networkService, findOpts),
      this.finder.endpoints(ctx, { networkServiceNames: [conn.networkService] }, findOpts),
    ]);
    if (!ns && nses.length === 0) throw notFound(`network service "${conn.networkService}" not found`);
    if (ns?.payload && conn.payload && ns.payload !== conn.payload) {
      throw invalidArgument(
        `connection.payload "${conn.payload}" does not match the payload "${ns.payload}" of network service "${ns.name}"`,
      );
    }
    conn.payload = ns?.payload || conn.payload || DEFAULT_PAYLOAD;
    if (nses.length === 0)
      throw notFound(`no endpoints are registered for network service "${conn.networkService}"`);
    const labels = conn.labels ?? {};
    const selection = selectEndpoints(ns, nses, labels);
    if (selection.candidates.length === 0) {
      const selectors = selection.match
        ? ` (selector ${describeRoutes(selection.match.routes)})`
        : ns?.matches.length
          ? ' (no match of the service applies to them)'
          : '';
      throw notFound(
        `no endpoint of network service "${conn.networkService}" matches the labels ${JSON.stringify(labels)}${selectors}`,
      );
    }
    const passed = passedEndpoints(conn);
    const fresh = selection.candidates.filter((c) => !passed.includes(c.nse.name));
    if (fresh.length === 0) {
      const back = selection.candidates.map((c) => c.nse.name);
      throw failedPrecondition(
        `network service "${conn.networkService}" loops: the request with labels ${JSON.stringify(labels)} has passed ${passed.join(' → ')} and its match routes it back to ${back.map((n) => `"${n}"`).join(', ')}`,
      );
    }
    const weights = new Map(fresh.map((c) => [c.nse.name, c.weight]));
    return next.server(ctx).request(
      withCandidates(
        ctx,
        fresh.map((c) => c.nse),
        weights,
      ),
      req,
    );
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

/** The names on the path before this hop: the client, nsmgrs, forwarders and endpoints the request passed. */
function passedEndpoints(conn: Connection): string[] {
  const segments = conn.path?.pathSegments ?? [];
  return segments.slice(0, conn.path?.index ?? 0).map((s) => s.name);
}

function describeRoutes(routes: Match['routes']): string {
  if (routes.length === 0) return 'none: the match has no routes';
  return routes.map((r) => JSON.stringify(r.destinationSelector ?? {})).join(' or ');
}

export function newServer(finder: Finder): NetworkServiceServer {
  return new DiscoverServer(finder);
}
