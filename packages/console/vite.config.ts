/**
 * The console's build: one JS and one CSS file under dist/assets, no source maps shipped,
 * nothing loaded from elsewhere at run time (the node's content security policy forbids it).
 */
import { defineConfig } from 'vite'

export default defineConfig({
  root: 'src',
  base: '/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
})
