import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  configOptions,
  defaultNodeConfig,
  loadNodeConfig,
  nodeConfigToJson,
  parseTokenAmount,
} from '../../src/config/index.js'

let home: string
let dataDir: string

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ocn-config-'))
  dataDir = join(home, 'data')
})

afterEach(async () => {
  await rm(home, { recursive: true, force: true })
})

async function writeConfig(name: string, content: unknown): Promise<string> {
  const file = join(home, name)
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

async function loadError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

describe('loadNodeConfig', () => {
  it('uses devnet defaults under $HOME/.ocn when nothing is given', async () => {
    const { config, configFile, sources } = await loadNodeConfig({ env: { HOME: home }, cwd: home })
    expect(config.dataDir).toBe(join(home, '.ocn'))
    expect(config.chain.rpcUrl).toBe('http://127.0.0.1:8545')
    expect(config.chain.deploymentFile).toBe(join(home, '.ocn', 'deployment.json'))
    expect(config.api).toEqual({ enabled: true, host: '127.0.0.1', port: 7410 })
    expect(config.roles).toEqual([])
    expect(configFile).toBeUndefined()
    expect(Object.values(sources).every((source) => source === 'default')).toBe(true)
  })

  it('applies file, then environment, then flags', async () => {
    const file = await writeConfig('ocn.json', { api: { port: 1111 }, chain: { confirmations: 3 } })
    const env = { HOME: home, OCN_API_PORT: '2222' }
    const flags = { config: file, 'api-port': '3333' }

    const all = await loadNodeConfig({ env, flags, cwd: home })
    expect(all.config.api.port).toBe(3333)
    expect(all.sources['api.port']).toBe('flag')
    expect(all.config.chain.confirmations).toBe(3)
    expect(all.sources['chain.confirmations']).toBe('file')
    expect(all.configFile).toBe(file)

    const withoutFlag = await loadNodeConfig({ env, flags: { config: file }, cwd: home })
    expect(withoutFlag.config.api.port).toBe(2222)
    expect(withoutFlag.sources['api.port']).toBe('env')

    const fileOnly = await loadNodeConfig({ env: { HOME: home, OCN_CONFIG: file }, cwd: home })
    expect(fileOnly.config.api.port).toBe(1111)
  })

  it('finds config.json in the data dir given by flag', async () => {
    const { mkdir } = await import('node:fs/promises')
    await mkdir(dataDir, { recursive: true })
    await writeFile(
      join(dataDir, 'config.json'),
      JSON.stringify({ roles: ['provider'], network: { mdns: false } }),
    )
    const { config, configFile } = await loadNodeConfig({
      env: { HOME: home },
      flags: { 'data-dir': dataDir },
      cwd: home,
    })
    expect(configFile).toBe(join(dataDir, 'config.json'))
    expect(config.roles).toEqual(['provider'])
    expect(config.network.mdns).toBe(false)
  })

  it('parses lists, booleans, token amounts and roles from env and flags', async () => {
    const { config } = await loadNodeConfig({
      env: {
        HOME: home,
        OCN_ROLES: 'provider, verifier',
        OCN_LISTEN: '/ip4/127.0.0.1/tcp/5001,/ip4/127.0.0.1/tcp/5002',
        OCN_PROVIDER_PRICE_FLOOR: '0.25 OPEN',
        OCN_MDNS: 'false',
      },
      flags: {
        'max-price': '123456789012345678901234567890',
        device: ['cpu', 'cuda:1'],
        mdns: true,
        'no-api': true,
      },
      cwd: home,
    })
    expect(config.roles).toEqual(['provider', 'verifier'])
    expect(config.network.listen).toEqual(['/ip4/127.0.0.1/tcp/5001', '/ip4/127.0.0.1/tcp/5002'])
    expect(config.provider.priceFloorPerSample).toBe(250_000_000_000_000_000n)
    expect(config.requester.maxPrice).toBe(123456789012345678901234567890n)
    expect(config.provider.devices).toEqual(['cpu', 'cuda:1'])
    expect(config.network.mdns).toBe(true)
    expect(config.api.enabled).toBe(false)
  })

  it('names the unknown key of a config file', async () => {
    const file = await writeConfig('bad.json', { provider: { priceFlor: '1' } })
    const error = await loadError(loadNodeConfig({ env: { HOME: home }, flags: { config: file }, cwd: home }))
    expect(error.code).toBe('CONFIG_UNKNOWN_KEY')
    expect(error.key).toBe('provider.priceFlor')
    expect(error.shortMessage).toContain('"provider.priceFlor"')
    expect(error.shortMessage).toContain(file)
  })

  it('names the bad key, the expectation and the source of an invalid value', async () => {
    const file = await writeConfig('bad.json', { api: { port: 'eighty' } })
    const fromFile = await loadError(
      loadNodeConfig({ env: { HOME: home }, flags: { config: file }, cwd: home }),
    )
    expect(fromFile.code).toBe('CONFIG_INVALID_VALUE')
    expect(fromFile.key).toBe('api.port')
    expect(fromFile.source).toBe('file')
    expect(fromFile.shortMessage).toMatch(/api\.port must be an integer from 0 to 65535 \(got "eighty"\)/)

    const fromEnv = await loadError(loadNodeConfig({ env: { HOME: home, OCN_API_PORT: '70000' }, cwd: home }))
    expect(fromEnv.source).toBe('env')
    expect(fromEnv.shortMessage).toContain('OCN_API_PORT')

    const fromFlag = await loadError(
      loadNodeConfig({ env: { HOME: home }, flags: { 'max-jobs': '0' }, cwd: home }),
    )
    expect(fromFlag.source).toBe('flag')
    expect(fromFlag.key).toBe('provider.maxConcurrentJobs')
    expect(fromFlag.shortMessage).toContain('--max-jobs')
  })

  it.each([
    [{ roles: ['provider', 'miner'] }, 'roles', /"miner" is not a role/],
    [{ network: { bootstrap: ['/ip4/1.2.3.4/tcp/4101'] } }, 'network.bootstrap', /no \/p2p\/<peerId>/],
    [{ network: { listen: ['tcp://1.2.3.4'] } }, 'network.listen', /not a multiaddr/],
    [{ chain: { rpcUrl: 'ftp://x' } }, 'chain.rpcUrl', /http, https, ws or wss/],
    [{ provider: { devices: ['tpu'] } }, 'provider.devices', /not a device/],
    [{ provider: { priceFloorPerSample: 1.5 } }, 'provider.priceFloorPerSample', /token amount/],
    [{ verifier: { targetDetectionProbability: 1 } }, 'verifier.targetDetectionProbability', /from 0 to/],
    [{ logLevel: 'loud' }, 'logLevel', /one of trace, debug/],
    [{ api: 7 }, 'api', /must be an object/],
  ])('rejects %j', async (content, key, message) => {
    const file = await writeConfig('bad.json', content)
    const error = await loadError(loadNodeConfig({ env: { HOME: home }, flags: { config: file }, cwd: home }))
    expect(error.key).toBe(key)
    expect(error.shortMessage).toMatch(message)
  })

  it('reports a missing or malformed explicit config file', async () => {
    const missing = await loadError(
      loadNodeConfig({ env: { HOME: home }, flags: { config: join(home, 'nope.json') }, cwd: home }),
    )
    expect(missing.code).toBe('CONFIG_FILE_UNREADABLE')
    const file = await writeConfig('broken.json', '{ "api": ')
    const broken = await loadError(
      loadNodeConfig({ env: { HOME: home }, flags: { config: file }, cwd: home }),
    )
    expect(broken.code).toBe('CONFIG_FILE_INVALID_JSON')
    const array = await writeConfig('array.json', '[]')
    expect(
      (await loadError(loadNodeConfig({ env: { HOME: home }, flags: { config: array }, cwd: home }))).code,
    ).toBe('CONFIG_FILE_INVALID_JSON')
  })

  it('round-trips its own JSON view through a config file', async () => {
    const original = defaultNodeConfig({ HOME: home })
    original.requester.maxPrice = 2n ** 70n
    original.roles = ['requester']
    const file = await writeConfig('full.json', nodeConfigToJson(original))
    const { config } = await loadNodeConfig({ env: { HOME: home }, flags: { config: file }, cwd: home })
    expect(config.requester.maxPrice).toBe(2n ** 70n)
    expect(config.roles).toEqual(['requester'])
  })
})

describe('parseTokenAmount', () => {
  it('reads base units and decimal OPEN amounts exactly', () => {
    expect(parseTokenAmount('42')).toBe(42n)
    expect(parseTokenAmount('1 OPEN')).toBe(10n ** 18n)
    expect(parseTokenAmount('0.000000000000000001 open')).toBe(1n)
    expect(parseTokenAmount('0.0000000000000000001 OPEN')).toBeUndefined()
    expect(parseTokenAmount('-1')).toBeUndefined()
    expect(parseTokenAmount('1e18')).toBeUndefined()
  })
})

describe('docs/node.md', () => {
  it('documents every option with its key, environment variable and flag', async () => {
    const docs = await readFile(new URL('../../../../docs/node.md', import.meta.url), 'utf8')
    const missing = configOptions.filter(
      (spec) =>
        !docs.includes(`\`${spec.key}\``) ||
        !docs.includes(`\`${spec.env}\``) ||
        !docs.includes(`\`--${spec.flag}`),
    )
    expect(missing.map((spec) => spec.key)).toEqual([])
  })
})
