export { parsePolicyFile } from './common.js';
export { loadPolicyFile, newServer, type PolicyRouteOptions } from './server.js';
