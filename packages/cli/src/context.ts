import {
  type ConfigFlagValues,
  createLogger,
  type LoadedNodeConfig,
  type Logger,
  loadNodeConfig,
} from '@ocn/node'
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
