export { PEER_LABEL, replicaAddress, SliceAddresses } from './common.js';
export { newServer, type Vl3IpamOptions } from './server.js';
