import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    setupFiles: ['@ocn/protocol/polyfill'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
})
