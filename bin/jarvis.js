#!/usr/bin/env node
// The sources are TypeScript; tsx compiles them on the fly so there is no build step between `git pull` and a run.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
await main();
