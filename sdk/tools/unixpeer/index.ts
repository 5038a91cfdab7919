export * from './common.js';
export * from './peer.js';
