export { newDeadEndpointCheck, type UnregisterDeadOptions } from './common.js';
