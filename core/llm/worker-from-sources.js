// Starts the LLM worker from its TypeScript sources (tests, `node --import tsx`), as fast as the compiled build
// starts it: node-llama-cpp, most of what the worker loads, is imported natively first, and only then is tsx
// registered for the worker's own files. Under tsx from the start, every module of node-llama-cpp would pass
// through its loader hooks, which doubles the worker's start-up CPU.
await import('node-llama-cpp');
const { register } = await import('tsx/esm/api');
register();
await import('./worker.ts');
