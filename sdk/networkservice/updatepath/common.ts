// Path bookkeeping shared by the server and client updatepath elements. The rules match upstream
// (so that a path built by an upstream hop and one built by ours read the same), but one:
//  - no segments: add ours at index 0 (id = connection id, or a new uuid);
//  - the current segment is ours (a refresh): keep it;
//  - otherwise the current segment must belong to the caller (its id = connection id); step to the
//    next segment, reusing it if it already has our name; if it names another hop, the path from
//    there on is dropped and ours appended (as when absent).
import { randomUUID } from 'node:crypto';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../../errors/index.js';

/** Updates conn.path and conn.id in place; returns the index of the caller's segment. */
export function updatePath(conn: Connection, name: string): number {
  conn.path ??= { index: 0, pathSegments: [] };
  const path = conn.path;
  if (path.pathSegments.length === 0) {
    path.index = 0;
    if (!conn.id) conn.id = randomUUID();
    path.pathSegments.push({ name, id: conn.id, token: '', expires: undefined, metrics: {} });
    return 0;
  }
  const current = path.pathSegments[path.index];
  if (current && current.name === name) {
    conn.id = current.id;
    return path.index;
  }
  const nextIndex = path.index + 1;
  if (nextIndex > path.pathSegments.length) {
    throw invalidArgument(
      `path.index ${path.index} is out of range: the path has ${path.pathSegments.length} segments`,
    );
  }
  if (current.id !== conn.id) {
    throw invalidArgument(
      `connection id "${conn.id}" does not match the id "${current.id}" of the current path segment ${path.index}`,
    );
  }
  const following = path.pathSegments[nextIndex];
  if (following && following.name !== name) {
    // Another hop now (a replica, a reselected endpoint): what the old one led to is not ours to
    // reuse. As upstream, drop the rest of the path, so every hop after this gets a new id and no
    // hop mistakes the request for the old one's connection (which that one's caller still owns).
    path.pathSegments.length = nextIndex;
  }
  path.index = nextIndex;
  if (nextIndex >= path.pathSegments.length) {
    conn.id = randomUUID();
    path.pathSegments.push({ name, id: conn.id, token: '', expires: undefined, metrics: {} });
  } else {
    conn.id = path.pathSegments[nextIndex].id;
  }
  return nextIndex - 1;
}

/**
 * For a Request that came over the wire: the path segment showing it loops through this hop, or
 * undefined. The caller's index points at the caller's own segment, so that segment carrying our
 * name means we are calling ourselves (an endpoint whose URL is a forwarder's socket, a service
 * served by the hop itself), and would wait for ourselves (begin serialises a connection's events)
 * until the deadline. A hop seen earlier on the path is not a loop by itself: a CNF chain passes
 * the same nsmgr and forwarder again, through another endpoint each time. It is one when the way
 * from our last visit back to us repeats the way before it (nsmgr → forwarder → nsmgr → forwarder
 * → nsmgr): refused on the second round.
 */
export function loopSegment(conn: Connection, name: string): number | undefined {
  const segments = conn.path?.pathSegments ?? [];
  const upTo = Math.min(conn.path?.index ?? 0, segments.length - 1);
  if (upTo < 0) return undefined;
  if (segments[upTo].name === name) return upTo;
  const visits: number[] = [];
  for (let i = 0; i <= upTo; i++) if (segments[i].name === name) visits.push(i);
  if (visits.length < 2) return undefined;
  const [before, last] = visits.slice(-2);
  const names = segments.map((s) => s.name);
  const round = names.slice(last, upTo + 1).join('\u0000');
  const previous = names.slice(before, last).join('\u0000');
  return round === previous ? last : undefined;
}
