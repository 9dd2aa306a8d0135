/**
 * The p2p and artifact services log through the node's one `Logger` (src/logging), so the
 * daemon's pino logger fits as is and tests can pass `silentLogger`.
 *
 * Peer-supplied text is never logged at info or above (it could be crafted to mislead an
 * operator); it goes to debug with the peer id attached.
 */
import type { LogFn, Logger } from '../logging/index.js'

export type { LogFn, Logger }

const noop: LogFn = () => {}

/** A logger that drops everything, without building a pino instance. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
}
