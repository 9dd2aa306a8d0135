// Every deployed contract stays under the EIP-170 runtime size limit (24 KiB), which anvil and
// mainnet enforce: the JobMarket is close to it, and the DisputeCourt is compiled with fewer
// optimizer runs to fit. Reads the build artifacts only (no chain).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const artifacts = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts')
const EIP170_LIMIT = 24_576

describe('contract sizes', () => {
  it.each([
    'JobMarket',
    'JobMarketExtension',
    'DisputeCourt',
    'StakeManager',
    'AttributionPool',
    'DatanetRegistry',
    'ModelRegistry',
    'ModelMonitor',
    'PaymentChannels',
    'OpenGovernor',
  ])('%s runtime bytecode is under 24 KiB', (name) => {
    const artifact = JSON.parse(readFileSync(join(artifacts, `${name}.json`), 'utf8')) as {
      deployedBytecode: string
    }
    const size = (artifact.deployedBytecode.length - 2) / 2
    expect(size).toBeGreaterThan(0)
    expect(size).toBeLessThan(EIP170_LIMIT)
  })
})
