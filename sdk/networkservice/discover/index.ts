export { DEFAULT_FINDER_CACHE_TTL_MS, type Finder, type FinderOptions, newFinder } from './common.js';
export { candidates, DEFAULT_PAYLOAD, newServer, withCandidates } from './server.js';
