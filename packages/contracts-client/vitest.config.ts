import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // libp2p 3 calls Promise.withResolvers, which Node 20 lacks
    setupFiles: ['@ocn/protocol/polyfill'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
})
