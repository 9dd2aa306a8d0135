import { afterEach, describe, expect, it, vi } from 'vitest'
import { silentLogger } from '../../src/core/logger.js'
import { startBootstrapRedial } from '../../src/p2p/bootstrap-redial.js'

const SEEDS = [
  '/ip4/10.0.0.10/tcp/4100/p2p/12D3KooWHhjZqD4tx9EzF5q5Q9dU1C4EKsQY2HzhQ2wtrtgPgWjG',
  '/ip4/10.0.0.11/tcp/4100/p2p/12D3KooWQByk9Wg9ZUp43Vxc1GnBcrRSfbu9G2Q7zmXCX6x8PbrC',
]

/** A host whose dials fail until `answering`, and then connect. */
function fakeHost() {
  const host = {
    connections: [] as unknown[],
    answering: false,
    dialled: [] as string[],
    getConnections: () => host.connections,
    async dial(address: { toString(): string }) {
      host.dialled.push(address.toString())
      if (!host.answering) throw new Error('dial timed out')
      host.connections.push({})
    },
  }
  return host
}

describe('bootstrap redial', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('dials the list again while the host is alone, and stops once connected', async () => {
    vi.useFakeTimers()
    const host = fakeHost()
    const stop = startBootstrapRedial(host, SEEDS, silentLogger, 1_000)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(host.dialled).toEqual(SEEDS)
    host.answering = true
    await vi.advanceTimersByTimeAsync(1_000)
    // the first seed answered: the second is not dialled
    expect(host.dialled).toEqual([...SEEDS, SEEDS[0]])
    await vi.advanceTimersByTimeAsync(5_000)
    expect(host.dialled).toHaveLength(3)
    stop()
  })

  it('does nothing with a connection, without a list, or once stopped', async () => {
    vi.useFakeTimers()
    const connected = fakeHost()
    connected.connections.push({})
    const stopConnected = startBootstrapRedial(connected, SEEDS, silentLogger, 1_000)
    const alone = fakeHost()
    startBootstrapRedial(alone, [], silentLogger, 1_000)
    const stopped = fakeHost()
    startBootstrapRedial(stopped, SEEDS, silentLogger, 1_000)()
    await vi.advanceTimersByTimeAsync(5_000)
    expect([connected.dialled, alone.dialled, stopped.dialled]).toEqual([[], [], []])
    stopConnected()
  })
})
