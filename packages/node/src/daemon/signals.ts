import type { Logger } from '../core/logger.js'

export interface ShutdownOptions {
  logger: Logger
  signals?: readonly NodeJS.Signals[]
  /** Called on a second signal while stopping: the user wants out now. */
  onForce?: (signal: NodeJS.Signals) => void
}

/**
 * Stops the daemon on SIGINT/SIGTERM and resolves once it has stopped. A second signal
 * during shutdown calls `onForce` (the CLI exits at once). Returns a function that
 * removes the handlers.
 */
export function stopOnSignals(
  daemon: { stop(): Promise<void> },
  options: ShutdownOptions,
): { stopped: Promise<NodeJS.Signals>; dispose: () => void } {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM']
  let stopping = false
  let resolveStopped!: (signal: NodeJS.Signals) => void
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    resolveStopped = resolve
  })
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      options.logger.warn({ signal }, 'second signal: forcing exit')
      options.onForce?.(signal)
      return
    }
    stopping = true
    options.logger.info({ signal }, 'signal received, shutting down')
    daemon.stop().then(
      () => resolveStopped(signal),
      (error: unknown) => {
        options.logger.error({ err: error }, 'shutdown failed')
        resolveStopped(signal)
      },
    )
  }
  for (const signal of signals) process.on(signal, handler)
  return {
    stopped,
    dispose: () => {
      for (const signal of signals) process.off(signal, handler)
    },
  }
}

/**
 * With `OCN_STOP_ON_STDIN_CLOSE=1` (set by a supervisor such as the devnet, which keeps the
 * pipe open), the end of stdin sends this process SIGTERM: when the supervisor dies, even
 * by kill -9, its children stop cleanly through their signal handlers. Returns a function
 * that stops watching; it also lets go of stdin, which would otherwise keep the process alive.
 */
export function stopOnStdinClose(io: { env: NodeJS.ProcessEnv; stdin: NodeJS.ReadableStream }): () => void {
  if (io.env.OCN_STOP_ON_STDIN_CLOSE !== '1') return () => {}
  const onEnd = (): void => {
    process.kill(process.pid, 'SIGTERM')
  }
  io.stdin.once('end', onEnd)
  io.stdin.resume()
  return () => {
    io.stdin.off('end', onEnd)
    io.stdin.pause()
    ;(io.stdin as { destroy?: () => void }).destroy?.()
  }
}
