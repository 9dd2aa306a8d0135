import { describe, expect, it } from 'vitest'
import {
  loadScenario,
  machineBusyFraction,
  parsePidStatTicks,
  parseProcStat,
  percentile,
  pickBottleneck,
} from '../../src/testnet/load.js'

describe('the load benchmark helpers', () => {
  it('make the scenario: requesters and verifiers first, one cheater among the providers', () => {
    const scenario = loadScenario({ providers: 20, verifiers: 3, requesters: 4 })
    expect(scenario.nodes).toHaveLength(27)
    expect(scenario.nodes.slice(0, 4).map((n) => n.name)).toEqual([
      'requester-1',
      'requester-2',
      'requester-3',
      'requester-4',
    ])
    const providers = scenario.nodes.filter((n) => n.roles.includes('provider'))
    expect(providers).toHaveLength(20)
    const cheaters = providers.filter((n) => n.cheater)
    expect(cheaters.map((n) => [n.name, n.faults])).toEqual([['cheater', { fraction: 0.5 }]])
    // the cheater bids lowest
    const floors = providers.map((n) => n.priceFloor!)
    expect(floors.every((f) => f >= cheaters[0]!.priceFloor!)).toBe(true)
    expect(new Set(floors).size).toBe(20)
  })

  it('take percentiles by nearest rank', () => {
    expect(percentile([], 50)).toBeNull()
    expect(percentile([5], 95)).toBe(5)
    const hundred = Array.from({ length: 100 }, (_v, i) => 100 - i)
    expect(percentile(hundred, 50)).toBe(50)
    expect(percentile(hundred, 95)).toBe(95)
    expect(percentile(hundred, 100)).toBe(100)
  })

  it('read the busy share of the machine and a process CPU time from /proc', () => {
    const before = parseProcStat('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n')
    const after = parseProcStat('cpu  400 0 200 800 100 0 0 0 0 0\ncpu0 1 2 3 4\n')
    expect(before).toEqual({ busy: 200, total: 1000 })
    expect(machineBusyFraction(before, after)).toBe(0.8)
    // a command name with a space and a parenthesis
    const stat = '4242 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 11 0 100 200 300'
    expect(parsePidStatTicks(stat)).toBe(281)
    expect(() => parseProcStat('intr 1 2 3')).toThrow()
  })

  it('name the CPU first when the machine was saturated, else the resource furthest past its limit', () => {
    const quiet = {
      machineBusy: 0.5,
      chainProbeP95Ms: 20,
      offerLagP95Ms: 300,
      prebidP95Ms: 500,
      prebidTimeoutMs: 2000,
    }
    expect(pickBottleneck(quiet)).toMatchObject({ kind: 'gossip', saturated: false })
    expect(pickBottleneck({ ...quiet, offerLagP95Ms: 1500, machineBusy: 0.95 })).toMatchObject({
      kind: 'CPU',
      saturated: true,
    })
    expect(pickBottleneck({ ...quiet, chainProbeP95Ms: 3000 })).toMatchObject({
      kind: 'chain',
      saturated: true,
    })
    expect(pickBottleneck({ ...quiet, prebidP95Ms: 2600 }).kind).toBe('transfer')
    expect(
      pickBottleneck({ ...quiet, offerLagP95Ms: null, prebidP95Ms: null, chainProbeP95Ms: null }).kind,
    ).toBe('CPU')
  })
})
