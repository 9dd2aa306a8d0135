/**
 * The daemon's part stack: parts stop last-first, and one that hangs or throws on stop is
 * logged and passed over, so the rest still stop.
 */
import { describe, expect, it } from 'vitest'
import type { Logger } from '../../src/core/logger.js'
import { silentLogger } from '../../src/core/logger.js'
import { createPartStack } from '../../src/daemon/stack.js'

function recordingLogger(lines: string[]): Logger {
  return {
    ...silentLogger,
    warn: (obj: object | string, msg?: string) => lines.push(`warn ${msg ?? obj}`),
    error: (obj: object | string, msg?: string) => lines.push(`error ${msg ?? obj}`),
  }
}

describe('the part stack', () => {
  it('stops last-first, past a part that hangs and one that throws', async () => {
    const lines: string[] = []
    const stopped: string[] = []
    const stack = createPartStack(recordingLogger(lines), 50)
    const part = (stop: () => Promise<void>) => ({ start: async () => {}, stop })
    await stack.start(
      'a',
      part(async () => void stopped.push('a')),
    )
    await stack.start(
      'hangs',
      part(() => new Promise<void>(() => {})),
    )
    await stack.start(
      'throws',
      part(async () => Promise.reject(new Error('boom'))),
    )
    await stack.start(
      'd',
      part(async () => void stopped.push('d')),
    )
    await stack.stopAll()
    expect(stopped).toEqual(['d', 'a'])
    expect(lines).toEqual(['error service failed to stop cleanly', 'warn service did not stop in time'])
    await stack.stopAll()
    expect(stopped).toEqual(['d', 'a'])
  })
})
