import { NodeError, type NodeErrorOptions } from '../core/errors.js'

export type ConfigErrorCode =
  | 'CONFIG_FILE_UNREADABLE'
  | 'CONFIG_FILE_INVALID_JSON'
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_INVALID_VALUE'
  /** an option needs something the deployment does not have (e.g. a ModelRegistry) */
  | 'CONFIG_DEPLOYMENT_UNSUITED'

/** Where a bad value came from, so the message can point the user at the right place. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag'

export interface ConfigErrorOptions extends NodeErrorOptions {
  /** Dotted config key, e.g. `provider.maxConcurrentJobs`. */
  key?: string | undefined
  source?: ConfigSource | undefined
}

export class ConfigError extends NodeError<ConfigErrorCode> {
  override name = 'ConfigError'
  readonly key: string | undefined
  readonly source: ConfigSource | undefined

  constructor(code: ConfigErrorCode, shortMessage: string, options: ConfigErrorOptions = {}) {
    super(code, shortMessage, options)
    this.key = options.key
    this.source = options.source
  }
}
