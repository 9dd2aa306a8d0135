import { tieredConfig } from '../../scripts/vitest/tiers.mjs'
import { integration, system } from './vitest.tiers.js'

export default tieredConfig({
  root: import.meta.dirname,
  include: ['test/**/*.test.ts'],
  integration,
  system,
  test: {
    // libp2p 3 calls Promise.withResolvers, which Node 20 lacks
    setupFiles: ['@ocn/protocol/polyfill'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
})
