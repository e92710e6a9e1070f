import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { defineConfig } from 'vite';

/** The HUD and phone remote. `npm run build:hud` builds it into hud/dist, which the daemon serves. */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: path.join(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts or data: URLs for scripts: the server's Content-Security-Policy forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
