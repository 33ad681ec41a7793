#!/usr/bin/env node
// `npx yunying …`: the administration CLI, run from the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/yunying.ts');
