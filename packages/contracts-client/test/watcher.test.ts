import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  approveToken,
  createEventWatcher,
  type ProtocolEvent,
  type ReorgInfo,
  stake,
  type WatcherCursor,
} from '../src/index.js'
import { approveMarket, type Protocol, setupProtocol } from './helpers.js'

let p: Protocol
let addresses: `0x${string}`[]

beforeAll(async () => {
  p = await setupProtocol()
  addresses = [p.deployment.addresses.stakeManager, p.deployment.addresses.jobMarket]
  for (const w of [p.provider, p.verifier]) {
    await approveToken(w, {
      token: p.deployment.addresses.token,
      spender: p.deployment.addresses.stakeManager,
      amount: parseEther('10000'),
    })
  }
  await approveMarket(p, p.requester, 1n)
})
afterAll(async () => {
  await p?.chain.stop()
})

const stakeOf = (amount: bigint, who = p.provider) =>
  stake(who, { stakeManager: p.deployment.addresses.stakeManager, amount })

/** A consumer that keeps events keyed by position and drops orphaned ones on a reorg. */
function collector() {
  const events: ProtocolEvent[] = []
  const reorgs: ReorgInfo[] = []
  return {
    events,
    reorgs,
    onEvents: (batch: ProtocolEvent[]) => {
      events.push(...batch)
    },
    onReorg: (info: ReorgInfo) => {
      reorgs.push(info)
      for (let i = events.length - 1; i >= 0; i--)
        if (events[i]!.blockNumber > info.rewoundTo) events.splice(i, 1)
    },
  }
}

const summary = (events: ProtocolEvent[]) =>
  events.map((e) => `${e.eventName}:${e.blockNumber}:${e.logIndex}:${e.blockHash}`)

describe('event watcher', () => {
  it('delivers protocol events from the deployment block, in order, once', async () => {
    const c = collector()
    const watcher = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      ...c,
    })
    await stakeOf(parseEther('1'))
    await stakeOf(parseEther('2'))
    expect(await watcher.poll()).toBeGreaterThanOrEqual(2)
    const staked = c.events.filter((e) => e.eventName === 'Staked')
    expect(staked.map((e) => (e.eventName === 'Staked' ? e.args.amount : 0n))).toEqual([
      parseEther('1'),
      parseEther('2'),
    ])
    // the deployment's ParamsUpdated and UnbondingDelayUpdated events come first
    expect(c.events[0]!.blockNumber).toBeLessThan(staked[0]!.blockNumber)
    expect(await watcher.poll()).toBe(0)
  })

  it('waits for confirmations, and resumes from a persisted cursor without duplicates', async () => {
    const c = collector()
    let saved: WatcherCursor | undefined
    const watcher = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 2,
      onEvents: (batch, cursor) => {
        c.onEvents(batch)
        saved = cursor
      },
    })
    // bury everything earlier under two blocks first
    await p.test.mine({ blocks: 2 })
    await watcher.poll()
    const before = c.events.length
    await stakeOf(parseEther('3'))
    await watcher.poll()
    expect(c.events.length).toBe(before)
    await p.test.mine({ blocks: 2 })
    await watcher.poll()
    expect(c.events.length).toBe(before + 1)
    expect(saved).toBeDefined()

    // a second watcher started from the persisted cursor sees only what came after it
    await stakeOf(parseEther('4'))
    await p.test.mine({ blocks: 2 })
    const resumed = collector()
    const second = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 2,
      cursor: saved!,
      ...resumed,
    })
    await second.poll()
    expect(resumed.events.map((e) => e.eventName)).toEqual(['Staked'])
    expect(resumed.events[0]!.eventName === 'Staked' && resumed.events[0]!.args.amount).toBe(parseEther('4'))
  })

  it('detects a reorg below its cursor and replays the new chain', async () => {
    const c = collector()
    const watcher = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      ...c,
    })
    await watcher.poll()
    const forkPoint = watcher.cursor!.blockNumber

    const snapshot = await p.test.snapshot()
    await stakeOf(parseEther('5'))
    await stakeOf(parseEther('6'))
    await watcher.poll()
    const orphaned = c.events.filter((e) => e.blockNumber > forkPoint)
    expect(orphaned.map((e) => e.eventName)).toEqual(['Staked', 'Staked'])

    // the chain goes back to the fork point and grows a different, longer branch
    await p.test.revert({ id: snapshot })
    await stakeOf(parseEther('7'), p.verifier)
    await p.test.mine({ blocks: 3 })
    await watcher.poll()

    expect(c.reorgs.length).toBe(1)
    expect(c.reorgs[0]!.rewoundTo).toBeLessThanOrEqual(forkPoint)
    const after = c.events.filter((e) => e.blockNumber > forkPoint)
    expect(after.map((e) => (e.eventName === 'Staked' ? e.args.amount : 0n))).toEqual([parseEther('7')])
    for (const e of orphaned) expect(c.events.some((x) => x.blockHash === e.blockHash)).toBe(false)

    // what the watcher holds now equals a fresh read of the canonical chain
    const fresh = collector()
    await createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      ...fresh,
    }).poll()
    expect(summary(c.events)).toEqual(summary(fresh.events))
  })

  it('after a restart, a reorg of its persisted cursor block rewinds maxReorgDepth and replays', async () => {
    const first = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      onEvents: () => {},
    })
    await first.poll()
    const snapshot = await p.test.snapshot()
    await stakeOf(parseEther('9'))
    await first.poll()
    const persisted = first.cursor!

    // the process restarts with only the persisted cursor, then the chain reorgs under it
    await p.test.revert({ id: snapshot })
    await stakeOf(parseEther('10'), p.verifier)
    await p.test.mine({ blocks: 2 })
    const c = collector()
    const restarted = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      maxReorgDepth: 3n,
      cursor: persisted,
      ...c,
    })
    await restarted.poll()
    expect(c.reorgs).toHaveLength(1)
    expect(c.reorgs[0]!.rewoundTo).toBe(persisted.blockNumber - 3n)
    const replayed = c.events
      .filter((e) => e.eventName === 'Staked')
      .map((e) => (e.eventName === 'Staked' ? e.args.amount : 0n))
    expect(replayed).toContain(parseEther('10'))
    expect(replayed).not.toContain(parseEther('9'))
  })

  it('polls in the background until stopped', async () => {
    const c = collector()
    const watcher = createEventWatcher({
      client: p.admin,
      addresses,
      fromBlock: p.deployment.deployBlock,
      confirmations: 0,
      pollIntervalMs: 20,
      ...c,
    })
    watcher.start()
    await stakeOf(parseEther('8'))
    const deadline = Date.now() + 10_000
    while (
      !c.events.some((e) => e.eventName === 'Staked' && e.args.amount === parseEther('8')) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20))
    }
    await watcher.stop()
    expect(c.events.some((e) => e.eventName === 'Staked' && e.args.amount === parseEther('8'))).toBe(true)
  })
})
