import { tieredConfig } from '../scripts/vitest/tiers.mjs'
import { integration, system } from './vitest.tiers.js'

// every test here runs a whole network: longer limits than the packages' defaults
export default tieredConfig({
  root: import.meta.dirname,
  include: ['**/*.test.ts'],
  integration,
  system,
  test: { testTimeout: 300_000, hookTimeout: 300_000 },
})
