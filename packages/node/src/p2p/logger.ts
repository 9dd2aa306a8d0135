/**
 * The logging interface every p2p and artifact service takes: the subset of pino's API we
 * use, so a pino logger fits as is and tests can pass `silentLogger`.
 *
 * Peer-supplied text is never logged at info or above (it could be crafted to mislead an
 * operator); it goes to debug with the peer id attached.
 */
export interface LogFn {
  (obj: object, msg?: string): void
  (msg: string): void
}

export interface Logger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  child(bindings: Record<string, unknown>): Logger
}

const noop: LogFn = () => {}

export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}
