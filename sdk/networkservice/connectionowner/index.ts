export type { Caller, OwnerKey, ProcessOwner, UnixOwnership } from './common.js';
export { type ConnectionOwnerOptions, type ConnectionOwnerServer, newServer } from './server.js';
