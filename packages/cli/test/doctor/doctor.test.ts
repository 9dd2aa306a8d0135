/**
 * `ocn doctor`'s checks on a healthy node and on each failure kind. Keys, file modes and the
 * disk are real files here; the chain and sockets come through probes (this is the unit
 * tier: no sockets), each probe answering as the real one does for that failure.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultNodeConfig, initNodeKeys, type NodeConfig } from '@ocn/node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ChainReport,
  type CheckResult,
  checkDisk,
  checkNodeVersion,
  type DoctorProbes,
  doctorText,
  runDoctor,
  tcpAddress,
} from '../../src/commands/doctor-run.js'
import { everyCheckOk } from './checks.js'

let dir: string
let config: NodeConfig

const healthyChain: ChainReport = {
  chainId: 31337,
  native: 10n ** 18n,
  token: 10n ** 21n,
  staked: 10n ** 20n,
  locked: 0n,
}

function probes(overrides: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    chain: async () => healthyChain,
    bind: async () => undefined,
    connect: async () => undefined,
    freeBytes: async () => 100n << 30n,
    executionProviders: () => ['cpu'],
    ...overrides,
  }
}

const byName = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.name, r]))

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-doctor-'))
  await initNodeKeys({ dataDir: dir })
  const base = defaultNodeConfig({})
  config = {
    ...base,
    dataDir: dir,
    roles: ['provider', 'requester'],
    network: {
      ...base.network,
      listen: ['/ip4/127.0.0.1/tcp/4101'],
      bootstrap: ['/ip4/10.0.0.2/tcp/4101/p2p/x'],
    },
  }
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('ocn doctor', () => {
  it('passes every check on a healthy node', async () => {
    const results = await runDoctor({ config, probes: probes(), running: false, nodeVersion: '22.3.0' })
    expect(results.map((r) => [r.name, r.status])).toEqual(everyCheckOk())
    expect(doctorText(results)).toMatch(/all checks passed$/)
  })

  it('says what to fix for each failure kind', async () => {
    expect(checkNodeVersion('18.19.0')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('20.11'),
    })
    expect(checkNodeVersion('20.11.0').status).toBe('ok')

    const failing = await runDoctor({
      config: { ...config, provider: { ...config.provider, devices: ['cuda:0'] } },
      running: false,
      probes: probes({
        chain: async () => ({ ...healthyChain, native: 0n, staked: 5n, locked: 5n, token: 0n }),
        bind: async () => 'EADDRINUSE',
        connect: async () => 'ECONNREFUSED',
        freeBytes: async () => 1n << 20n,
      }),
    })
    const r = byName(failing)
    expect(r.funds).toMatchObject({ status: 'fail', fix: expect.stringContaining('ocn stake') })
    expect(r.funds!.message).toContain('gas coin 0 wei')
    expect(r.funds!.message).toContain('no OPEN to pay for jobs')
    expect(r.listen).toMatchObject({ status: 'fail', message: expect.stringContaining('EADDRINUSE') })
    expect(r.bootstrap).toMatchObject({ status: 'fail', message: expect.stringContaining('ECONNREFUSED') })
    expect(r.execution).toMatchObject({ status: 'fail', fix: expect.stringContaining('provider.devices') })
    expect(r.disk).toMatchObject({ status: 'fail', message: expect.stringContaining('0.0 GiB free') })
    for (const result of failing.filter((x) => x.status === 'fail')) expect(result.fix).toBeDefined()
    expect(doctorText(failing)).toContain('5 check(s) failed')
  })

  it("counts a requester's market balance as money to pay for jobs", async () => {
    const paidIn = await runDoctor({
      config,
      running: false,
      probes: probes({ chain: async () => ({ ...healthyChain, token: 0n, market: 5n * 10n ** 18n }) }),
    })
    expect(byName(paidIn).funds).toMatchObject({
      status: 'ok',
      message: expect.stringContaining('(+ 5 OPEN in the market balance)'),
    })
    const empty = await runDoctor({
      config,
      running: false,
      probes: probes({ chain: async () => ({ ...healthyChain, token: 0n, market: 0n }) }),
    })
    expect(byName(empty).funds).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('no OPEN to pay for jobs'),
      fix: expect.stringContaining('ocn market deposit'),
    })
  })

  it('reports a chain it cannot reach or a deployment for another chain, and skips the funds', async () => {
    const mismatch = await runDoctor({
      config,
      running: false,
      probes: probes({
        chain: async () => ({
          error: {
            code: 'CHAIN_DEPLOYMENT_MISMATCH',
            message: 'the deployment file is for chain 1 but http://127.0.0.1:8545 is chain 31337',
            fix: 'use the deployment file of the chain the RPC endpoint serves',
          },
        }),
      }),
    })
    expect(byName(mismatch).chain).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('deployment file'),
    })
    expect(byName(mismatch).funds!.status).toBe('skip')
  })

  it('finds missing keys and keys others can read', async () => {
    await chmod(join(dir, 'keys', 'evm.key'), 0o644)
    const loose = byName(await runDoctor({ config, probes: probes(), running: false }))
    expect(loose.keys).toMatchObject({ status: 'fail', fix: expect.stringContaining('chmod 600') })
    expect(loose.keys!.message).toContain('mode 644')
    expect(loose.chain!.status).toBe('skip')

    const empty = await mkdtemp(join(tmpdir(), 'ocn-doctor-empty-'))
    const none = byName(
      await runDoctor({ config: { ...config, dataDir: empty }, probes: probes(), running: false }),
    )
    expect(none.keys).toMatchObject({ status: 'fail', fix: expect.stringContaining('ocn init') })
    await rm(empty, { recursive: true, force: true })
  })

  it('checks a running node by connecting to its listen addresses instead of binding them', async () => {
    const asked: string[] = []
    const results = await runDoctor({
      config: { ...config, network: { ...config.network, listen: ['/ip4/0.0.0.0/tcp/4101'] } },
      running: true,
      probes: probes({
        bind: async () => 'EADDRINUSE',
        connect: async (host, port) => {
          asked.push(`${host}:${port}`)
          return undefined
        },
      }),
    })
    expect(byName(results).listen!.status).toBe('ok')
    expect(asked).toContain('127.0.0.1:4101')
  })

  it('parses TCP multiaddrs and warns when the disk runs low', () => {
    expect(tcpAddress('/ip6/::1/tcp/80/p2p/x')).toEqual({ host: '::1', port: 80 })
    expect(tcpAddress('/ip4/1.2.3.4/udp/80/quic')).toBeUndefined()
    expect(checkDisk('/d', 2n << 30n).status).toBe('warn')
  })
})
