export { listeningPaths, parseInodeURL, resolveSocketInode } from './common.js';
export { newNseServer } from './server.js';
