import { type ConfigFlagValues, type LoadedNodeConfig, loadNodeConfig } from '../config/load.js'
import { createLogger, type Logger } from '../core/logger.js'
import type { CommandContext } from './command.js'

export function loadConfigFor(context: CommandContext): Promise<LoadedNodeConfig> {
  return loadNodeConfig({
    flags: context.flags as ConfigFlagValues,
    env: context.io.env,
    cwd: context.io.cwd,
  })
}

export function loggerFor(context: CommandContext, loaded: LoadedNodeConfig): Logger {
  return createLogger({
    level: loaded.config.logLevel,
    format: loaded.config.logFormat,
    destination: context.io.stderr,
  })
}
