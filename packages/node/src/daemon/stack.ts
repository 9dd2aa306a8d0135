import type { Startable } from '../core/lifecycle.js'
import type { Logger } from '../core/logger.js'

/** The parts a daemon started, stopped last-first; a stop that hangs is logged, not waited for. */
export interface PartStack {
  start(name: string, part: Startable): Promise<void>
  stopAll(): Promise<void>
}

export function createPartStack(logger: Logger, stopTimeoutMs: number): PartStack {
  const running: Array<{ name: string; part: Startable }> = []

  async function stopWithTimeout(name: string, part: Startable): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), stopTimeoutMs)
    })
    try {
      const outcome = await Promise.race([part.stop().then(() => 'stopped' as const), timeout])
      if (outcome === 'timeout')
        logger.warn({ service: name, timeoutMs: stopTimeoutMs }, 'service did not stop in time')
    } catch (error) {
      logger.error({ service: name, err: error }, 'service failed to stop cleanly')
    } finally {
      clearTimeout(timer)
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
