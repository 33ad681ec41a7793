// Entry of a decode worker: loader hooks are per thread, so a worker started from the
// TypeScript sources (tsx) loads frame-decoder-worker.ts through tsx's API.
import { tsImport } from 'tsx/esm/api';

await tsImport('./frame-decoder-worker.ts', import.meta.url);
