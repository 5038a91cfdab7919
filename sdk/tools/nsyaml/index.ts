export { API_VERSION, KIND, loadNetworkServices, parseNetworkServices } from './load.js';
