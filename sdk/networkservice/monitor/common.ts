// Which connections a MonitorScopeSelector selects, with upstream's rules: an empty selector
// selects everything; network_services, when given, must contain the connection's service;
// path_segments must match a contiguous run of the connection's path, "" being a wildcard.
import type {
  Connection,
  MonitorScopeSelector,
  PathSegment,
} from '../../../api/gen/networkservice/connection.js';

function segmentMatches(have: PathSegment, want: PathSegment): boolean {
  return (
    (!want.name || have.name === want.name) &&
    (!want.id || have.id === want.id) &&
    (!want.token || have.token === want.token)
  );
}

export function matchesSelector(conn: Connection, selector: MonitorScopeSelector): boolean {
  const wanted = selector.pathSegments ?? [];
  const services = selector.networkServices ?? [];
  if (services.length > 0 && !services.includes(conn.networkService)) return false;
  if (wanted.length === 0) return true;
  const have = conn.path?.pathSegments ?? [];
  for (let i = 0; i + wanted.length <= have.length; i++) {
    if (wanted.every((w, j) => segmentMatches(have[i + j], w))) return true;
  }
  return false;
}
