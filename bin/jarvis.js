#!/usr/bin/env node
// The sources are TypeScript with no build step between `git pull` and a run: bin/build.js compiles them once
// per change (esbuild), and where that cannot be done tsx compiles them on the fly.
// Source maps make stack traces point at the .ts files.
process.setSourceMapsEnabled(true);
const { compiledMain } = await import('./build.js');
const compiled = await compiledMain().catch((error) => {
  console.error(`jarvis: could not compile the sources (${error.message}); running them through tsx instead`);
  return undefined;
});
let main;
if (compiled) {
  ({ main } = await import(compiled));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../core/cli/main.ts'));
}
await main();
