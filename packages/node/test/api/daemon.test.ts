import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { P2PService, RoleService } from '../../src/api/services.js'
import { defaultNodeConfig, type NodeConfig } from '../../src/config/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { createDaemon, type Daemon, DaemonError, readApiRuntimeFile } from '../../src/daemon/index.js'
import { initNodeKeys, loadNodeKeys } from '../../src/keys/index.js'
import { getJson, httpRequest } from './helpers.js'

let dataDir: string
let config: NodeConfig
let daemon: Daemon | undefined

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ocn-daemon-'))
  config = defaultNodeConfig({ HOME: dataDir })
  config.dataDir = dataDir
  config.api.port = 0
})

afterEach(async () => {
  await daemon?.stop()
  daemon = undefined
  await rm(dataDir, { recursive: true, force: true })
})

describe('daemon', () => {
  it('runs state, API and metrics, announces its API and cleans up on stop', async () => {
    await initNodeKeys({ dataDir })
    const keys = await loadNodeKeys({ dataDir })
    daemon = createDaemon(config, { logger: createSilentLogger(), keys })
    await daemon.start()
    expect(daemon.status).toBe('running')
    const url = daemon.apiUrl!
    expect(await readApiRuntimeFile(dataDir)).toEqual({ url, pid: process.pid })

    await daemon.state.createJob({
      id: '0x01',
      role: 'provider',
      state: 'offered',
      kind: 'inference',
      verification: 'replay',
    })
    const status = await getJson(`${url}/status`)
    expect(status.json).toMatchObject({
      address: keys.info.address,
      peerId: keys.info.peerId,
      services: { state: 'running', api: 'running', chain: 'absent', p2p: 'absent', executor: 'absent' },
      jobs: { offered: 1 },
      chain: { rpcUrl: 'http://127.0.0.1:8545' },
    })
    const metrics = await httpRequest(`${url}/metrics`)
    expect(metrics.body).toContain('ocn_jobs{state="offered"} 1')
    expect(metrics.body).toContain('process_cpu_user_seconds_total')

    await daemon.stop()
    expect(daemon.status).toBe('stopped')
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false)
    await expect(httpRequest(`${url}/status`)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    // The store was closed, so another daemon can take the data dir.
    daemon = createDaemon(config, { logger: createSilentLogger() })
    await daemon.start()
    expect((await daemon.state.requireJob('0x01')).state).toBe('offered')
  })

  it('refuses a role that this build cannot run', () => {
    config.roles = ['provider']
    let error: unknown
    try {
      createDaemon(config, { logger: createSilentLogger() })
    } catch (cause) {
      error = cause
    }
    expect(error).toBeInstanceOf(DaemonError)
    expect((error as DaemonError).code).toBe('DAEMON_ROLE_UNAVAILABLE')
  })

  it('runs the composition between state and API, and stops its parts in reverse', async () => {
    const events: string[] = []
    const p2p: P2PService = {
      peerId: '12D3KooWtest',
      listenAddresses: () => ['/ip4/127.0.0.1/tcp/4101'],
      peers: async () => [{ peerId: '12D3KooWother', addresses: [] }],
      start: async () => void events.push('p2p:start'),
      stop: async () => void events.push('p2p:stop'),
    }
    config.roles = ['verifier']
    const verifier: RoleService = {
      role: 'verifier',
      start: async () => void events.push('verifier:start'),
      stop: async () => void events.push('verifier:stop'),
      offers: async () => [],
    }
    daemon = createDaemon(config, {
      logger: createSilentLogger(),
      node: {
        roles: ['verifier'],
        async compose({ state, start }) {
          expect(state).toBeDefined()
          await start('p2p', p2p)
          await start('role:verifier', verifier)
          return { p2p, roles: [verifier] }
        },
      },
    })
    await daemon.start()
    const url = daemon.apiUrl!
    expect((await getJson(`${url}/peers`)).json.peers).toHaveLength(1)
    expect((await getJson(`${url}/offers`)).json.offers).toEqual([])
    expect((await getJson(`${url}/status`)).json).toMatchObject({
      network: { peers: 1, listen: ['/ip4/127.0.0.1/tcp/4101'] },
      services: { p2p: 'running', 'role:verifier': 'running' },
    })
    await daemon.stop()
    expect(events).toEqual(['p2p:start', 'verifier:start', 'verifier:stop', 'p2p:stop'])
  })

  it('stops what started when a later service fails to start', async () => {
    const events: string[] = []
    config.roles = ['requester']
    daemon = createDaemon(config, {
      logger: createSilentLogger(),
      node: {
        roles: ['requester'],
        async compose({ start }) {
          await start('p2p', {
            start: async () => void events.push('p2p:start'),
            stop: async () => void events.push('p2p:stop'),
          })
          await start('role:requester', {
            start: async () => {
              throw new Error('no deployment file')
            },
            stop: async () => void events.push('requester:stop'),
          })
          return { roles: [] }
        },
      },
    })
    await expect(daemon.start()).rejects.toMatchObject({ code: 'DAEMON_START_FAILED' })
    expect(events).toEqual(['p2p:start', 'p2p:stop'])
    expect(daemon.status).toBe('stopped')
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false)
  })

  it('stopped while starting, waits for the start and then stops everything', async () => {
    const events: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    daemon = createDaemon(config, {
      logger: createSilentLogger(),
      node: {
        roles: [],
        async compose({ start }) {
          await start('p2p', {
            start: async () => {
              await gate
              events.push('p2p:start')
            },
            stop: async () => void events.push('p2p:stop'),
          })
          return { roles: [] }
        },
      },
    })
    const started = daemon.start()
    const stopped = daemon.stop()
    release()
    await Promise.all([started, stopped])
    expect(events).toEqual(['p2p:start', 'p2p:stop'])
    expect(daemon.status).toBe('stopped')
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false)
    await expect(daemon.start()).rejects.toMatchObject({ code: 'DAEMON_ALREADY_STARTED' })
  })

  it('ignores an API runtime file left by a dead daemon', async () => {
    await writeFile(
      join(dataDir, 'api.json'),
      JSON.stringify({ url: 'http://127.0.0.1:1', pid: 2 ** 31 - 1 }),
    )
    expect(await readApiRuntimeFile(dataDir)).toBeUndefined()
    await writeFile(
      join(dataDir, 'api.json'),
      JSON.stringify({ url: 'http://127.0.0.1:1', pid: process.pid }),
    )
    expect(await readApiRuntimeFile(dataDir)).toEqual({ url: 'http://127.0.0.1:1', pid: process.pid })
  })

  it('leaves /metrics off when metrics are disabled', async () => {
    config.metrics.enabled = false
    daemon = createDaemon(config, { logger: createSilentLogger() })
    await daemon.start()
    expect((await getJson(`${daemon.apiUrl}/metrics`)).status).toBe(503)
    const runtime = JSON.parse(await readFile(join(dataDir, 'api.json'), 'utf8'))
    expect(runtime.url).toBe(daemon.apiUrl)
  })
})
