export {
  compactAndTrim,
  compactingGc,
  type HeapCompactor,
  type HeapCompactorOptions,
  startHeapCompactor,
} from './compact.js';
export { HEAP_FLAGS, type TuneHeapOptions, tuneHeap } from './heap.js';
export { MALLOC_TUNABLES } from './malloc.js';
export { type MallocTrim, mallocTrim } from './trim.js';
