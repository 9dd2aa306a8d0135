export { ConfigError, type ConfigErrorCode, type ConfigSource } from './errors.js'
export {
  CONFIG_ENV,
  CONFIG_FILE_NAME,
  type ConfigFlagValues,
  configFlagOptions,
  getConfigValue,
  type LoadedNodeConfig,
  type LoadNodeConfigParameters,
  loadNodeConfig,
  nodeConfigToJson,
} from './load.js'
export * from './options.js'
export { configOptions, type OptionSpec, type OptionType, parseTokenAmount } from './schema.js'
