import { tieredConfig } from '../../scripts/vitest/tiers.mjs'
import { integration, system } from './vitest.tiers.js'

export default tieredConfig({ root: import.meta.dirname, integration, system })
