export {
  EXPIRES_KEY,
  formatRFC3339,
  fromMetadata,
  type PeerToken,
  type PeerTokenResult,
  parseRFC3339,
  peerToken,
  TOKEN_KEY,
  toMetadata,
  withPeerToken,
} from './metadata.js';
