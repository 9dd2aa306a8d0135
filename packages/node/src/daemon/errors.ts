import { NodeError } from '../core/errors.js'

export type DaemonErrorCode = 'DAEMON_ALREADY_STARTED' | 'DAEMON_ROLE_UNAVAILABLE' | 'DAEMON_START_FAILED'

export class DaemonError extends NodeError<DaemonErrorCode> {
  override name = 'DaemonError'
}
