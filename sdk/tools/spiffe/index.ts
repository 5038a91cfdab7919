export { type CA, DEFAULT_SVID_TTL_MS, type IssuedSvid, type IssueOptions, newCA } from './ca.js';
export {
  type Identity,
  type IdentityConfig,
  identitySchema,
  openIdentity,
  resolveGroup,
  withIdentity,
} from './config.js';
export {
  peerFromAuthContext,
  type SpiffeCredentials,
  spiffeCredentials,
  spiffeIdOfPeer,
} from './credentials.js';
export {
  DEFAULT_POLL_INTERVAL_MS,
  type FileSourceOptions,
  loadSvidFiles,
  openFileSource,
  pemCertificates,
  type SvidFiles,
} from './file-source.js';
export { type Peer, peerIdentity, peerOf, withPeer } from './peer.js';
export type { Svid, X509Source } from './source.js';
export { parseSpiffeId, type SpiffeId, spiffeIdOfCertificate } from './spiffe-id.js';
export {
  openWorkloadApiSource,
  splitDer,
  type WorkloadApiSourceOptions,
  workloadApiTarget,
} from './workload-source.js';
