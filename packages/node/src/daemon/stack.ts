import type { Startable } from '../core/lifecycle.js'
import type { Logger } from '../core/logger.js'
import { withTimeout } from '../core/time.js'

/** The parts a daemon started, stopped last-first; a stop that hangs is logged, not waited for. */
export interface PartStack {
  start(name: string, part: Startable): Promise<void>
  stopAll(): Promise<void>
}

export function createPartStack(logger: Logger, stopTimeoutMs: number): PartStack {
  const running: Array<{ name: string; part: Startable }> = []

  async function stopWithTimeout(name: string, part: Startable): Promise<void> {
    const timedOut = new Error('stop timed out')
    try {
      await withTimeout(
        () => part.stop(),
        stopTimeoutMs,
        () => timedOut,
      )
    } catch (error) {
      if (error === timedOut)
        logger.warn({ service: name, timeoutMs: stopTimeoutMs }, 'service did not stop in time')
      else logger.error({ service: name, err: error }, 'service failed to stop cleanly')
    }
  }

  return {
    async start(name, part) {
      logger.debug({ service: name }, 'starting service')
      await part.start()
      running.push({ name, part })
    },
    async stopAll() {
      while (running.length > 0) {
        const { name, part } = running.pop()!
        await stopWithTimeout(name, part)
      }
    },
  }
}
