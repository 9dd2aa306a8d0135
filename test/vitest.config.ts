import { tieredConfig } from '../scripts/vitest/tiers.mjs'
import { integration, system } from './vitest.tiers.js'

export default tieredConfig({
  root: import.meta.dirname,
  include: ['**/*.test.ts'],
  integration,
  system,
  test: {
    // libp2p 3 calls Promise.withResolvers, which Node 20 lacks
    setupFiles: ['@ocn/protocol/polyfill'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
})
