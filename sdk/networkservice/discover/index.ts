export { type Finder, newFinder } from './common.js';
export { candidates, DEFAULT_PAYLOAD, newServer, withCandidates } from './server.js';
