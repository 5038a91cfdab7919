export {
  DEFAULT_FINDER_CACHE_TTL_MS,
  DEFAULT_FINDER_STALE_MS,
  type Finder,
  type FinderOptions,
  newFinder,
} from './common.js';
export {
  candidates,
  candidateWeights,
  loadAndDeleteSelected,
  type SelectedEndpoint,
  selectedEndpoint,
  storeSelected,
  withCandidates,
} from './metadata.js';
export { DEFAULT_PAYLOAD, newServer } from './server.js';
