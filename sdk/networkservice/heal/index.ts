export { type HealOptions, newClient } from './client.js';
export { kernelLivenessCheck, LIVENESS_PORT, probeTcp } from './liveness.js';
