#!/usr/bin/env node
// `npx yunying-gateway`: the edge gateway (前置机), run from the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
