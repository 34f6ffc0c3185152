/**
 * Builds the dashboard (`npm run build`, also run by `npm install`) into dashboard/dist, which
 * `sluice run` serves at `/` (src/server/dashboard-routes.ts).
 */
import { fileURLToPath } from 'node:url'
import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

export default defineConfig({
  // Paths are relative to this file, whatever directory the build runs from.
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Assets are asked for at /assets/…, which is where the server serves them.
  base: '/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A small app: one script and one stylesheet are quicker to load than many chunks.
    chunkSizeWarningLimit: 200,
  },
})
