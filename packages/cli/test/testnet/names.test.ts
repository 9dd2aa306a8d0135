import { describe, expect, it } from 'vitest'
import { linkDelayMs, ownerOf, testnetNames } from '../../src/testnet/names.js'
import { defaultScenario, parseScenario } from '../../src/testnet/scenario.js'
import { seedIndexes } from '../../src/testnet/testnet.js'

describe('testnet names', () => {
  it('carry their owner, so leftovers of a dead harness can be told apart', () => {
    for (const owner of [1, 35, 36, 4_194_303, 1_234_567]) {
      const names = testnetNames(owner)
      expect(ownerOf(names.namespace(7))).toBe(owner)
      expect(ownerOf(names.bridge)).toBe(owner)
      expect(ownerOf(names.hostVeth(239))).toBe(owner)
      // Linux interface names have at most 15 characters
      expect(names.hostVeth(239).length).toBeLessThanOrEqual(15)
      expect(names.bridge.length).toBeLessThanOrEqual(15)
    }
    expect(ownerOf('eth0')).toBeUndefined()
    expect(ownerOf('ocntn-12-probe')).toBeUndefined()
  })

  it('put each testnet in its own /24 under 10.128.0.0/9', () => {
    const names = testnetNames(70_000)
    expect(names.hostAddress).toMatch(/^10\.(1[2-9]\d|2[0-2]\d)\.\d+\.1$/)
    expect(names.nodeAddress(0)).toBe(`${names.subnet}.10`)
  })

  it('give every link a fixed delay in range, the same both ways', () => {
    const seen = new Set<number>()
    for (let a = 0; a < 20; a++)
      for (let b = 0; b < 20; b++) {
        const d = linkDelayMs(a, b, [20, 60])
        expect(d).toBe(linkDelayMs(b, a, [20, 60]))
        expect(d).toBeGreaterThanOrEqual(20)
        expect(d).toBeLessThanOrEqual(60)
        seen.add(d)
      }
    expect(seen.size).toBeGreaterThan(20)
  })
})

describe('testnet scenarios', () => {
  it('default: a requester, a verifier per five nodes, providers; seeds are the non-providers first', () => {
    const scenario = defaultScenario(10)
    expect(scenario.nodes.map((n) => n.roles[0])).toEqual([
      'requester',
      'verifier',
      'verifier',
      ...Array(7).fill('provider'),
    ])
    expect(seedIndexes(scenario)).toEqual([0, 1, 2])
    expect(() => defaultScenario(2)).toThrow(/3 to 240 nodes/)
  })

  it('reads roles, stake, prices, faults and counts from a file', () => {
    const scenario = parseScenario({
      link: { delayMs: [10, 30], rateMbit: 50 },
      seeds: 2,
      nodes: [
        { name: 'requester', roles: ['requester'] },
        { name: 'provider', roles: ['provider'], stake: '500', priceFloorPerSample: '0.0002', count: 2 },
        { name: 'cheater', roles: ['provider'], faults: { fraction: 0.5 } },
      ],
    })
    expect(scenario.link).toEqual({ delayMs: [10, 30], rateMbit: 50 })
    expect(scenario.nodes.map((n) => n.name)).toEqual(['requester', 'provider-1', 'provider-2', 'cheater'])
    expect(scenario.nodes[1]!.stakeAmount).toBe(500n * 10n ** 18n)
    expect(scenario.nodes[1]!.priceFloor).toBe(2n * 10n ** 14n)
    expect(scenario.nodes[0]!.stake).toBe(false)
    expect(scenario.nodes[3]!.cheater).toBe(true)
    expect(scenario.nodes[3]!.faults).toEqual({ fraction: 0.5 })
  })

  it('names the field a scenario gets wrong', () => {
    expect(() => parseScenario({ nodes: [{ name: 'x', roles: ['miner'] }] })).toThrow(/nodes\[0\]\.roles/)
    expect(() => parseScenario({ nodes: [{ name: 'a', roles: ['provider'], stake: 5 }] })).toThrow(
      /nodes\[0\]\.stake/,
    )
    expect(() =>
      parseScenario({ link: { delayMs: [60, 20] }, nodes: [{ name: 'a', roles: ['provider'], count: 2 }] }),
    ).toThrow(/link\.delayMs/)
    expect(() =>
      parseScenario({
        nodes: [
          { name: 'a', roles: ['provider'] },
          { name: 'a', roles: ['requester'] },
        ],
      }),
    ).toThrow(/same name/)
  })
})
