import { readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { ConfigError, type ConfigSource } from './errors.js'
import { defaultDataDir, defaultNodeConfig, type NodeConfig } from './options.js'
import {
  configOptions,
  findOption,
  type OptionSpec,
  type ParsedOptionValue,
  parseJsonValue,
  parseTextValue,
} from './schema.js'

/** Name of the config file looked up in the data dir when no `--config`/`OCN_CONFIG` is given. */
export const CONFIG_FILE_NAME = 'config.json'
export const CONFIG_ENV = 'OCN_CONFIG'

/** Flag values as `node:util` parseArgs returns them. */
export type ConfigFlagValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>

export interface LoadNodeConfigParameters {
  /** Parsed flags (see `configFlagOptions`); `config` names the config file. */
  flags?: ConfigFlagValues
  env?: NodeJS.ProcessEnv
  /** Base for relative paths given in flags and environment. */
  cwd?: string
}

export interface LoadedNodeConfig {
  config: NodeConfig
  /** The config file that was read, if any. */
  configFile: string | undefined
  /** Where each option's effective value came from, by dotted key. */
  sources: Record<string, ConfigSource>
}

/** parseArgs option descriptors for every config option (booleans get a `--no-x` twin). */
export function configFlagOptions(): Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    config: { type: 'string' },
  }
  for (const spec of configOptions) {
    if (spec.type === 'boolean') {
      options[spec.flag] = { type: 'boolean' }
      options[`no-${spec.flag}`] = { type: 'boolean' }
    } else if (spec.type === 'list' || spec.type === 'roles') {
      options[spec.flag] = { type: 'string', multiple: true }
    } else {
      options[spec.flag] = { type: 'string' }
    }
  }
  return options
}

function getPath(target: unknown, key: string): unknown {
  let node = target
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

function setPath(target: object, key: string, value: ParsedOptionValue): void {
  const parts = key.split('.')
  let node = target as Record<string, unknown>
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>
  node[parts.at(-1)!] = value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Collects the dotted keys of a parsed config file, rejecting keys no option knows. */
function flattenFile(value: Record<string, unknown>, file: string, prefix = ''): Map<string, unknown> {
  const flat = new Map<string, unknown>()
  for (const [name, child] of Object.entries(value)) {
    const key = prefix === '' ? name : `${prefix}.${name}`
    if (findOption(key) !== undefined) {
      flat.set(key, child)
      continue
    }
    const isSection = configOptions.some((spec) => spec.key.startsWith(`${key}.`))
    if (isSection && isPlainObject(child)) {
      for (const [childKey, childValue] of flattenFile(child, file, key)) flat.set(childKey, childValue)
      continue
    }
    if (isSection) {
      throw new ConfigError('CONFIG_INVALID_VALUE', `config file ${file}: "${key}" must be an object`, {
        key,
        source: 'file',
      })
    }
    throw new ConfigError('CONFIG_UNKNOWN_KEY', `config file ${file}: unknown key "${key}"`, {
      key,
      source: 'file',
      details: 'every option is listed in docs/node.md',
    })
  }
  return flat
}

async function readConfigFile(file: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    if (!required && (cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `cannot read config file ${file}`, {
      cause,
      details: (cause as Error).message,
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new ConfigError(
      'CONFIG_FILE_INVALID_JSON',
      `config file ${file} is not valid JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    )
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError('CONFIG_FILE_INVALID_JSON', `config file ${file} must hold a JSON object`)
  }
  return parsed
}

function flagTexts(spec: OptionSpec, flags: ConfigFlagValues): string[] | undefined {
  if (spec.type === 'boolean') {
    // Given both, the negative one wins: it is the more deliberate of the two.
    if (flags[`no-${spec.flag}`] === true) return ['false']
    if (flags[spec.flag] === true) return ['true']
    return undefined
  }
  const value = flags[spec.flag]
  if (value === undefined) return undefined
  const texts = (Array.isArray(value) ? value : [value]).filter(
    (item): item is string => typeof item === 'string',
  )
  return texts.length === 0 ? undefined : texts
}

function stringFlag(flags: ConfigFlagValues, name: string): string | undefined {
  const value = flags[name]
  return typeof value === 'string' ? value : undefined
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/**
 * Builds the effective configuration: defaults, then the config file, then `OCN_*`
 * environment variables, then flags. The config file is `--config`, else `OCN_CONFIG`,
 * else `config.json` in the data dir (optional). Every bad value fails with a
 * ConfigError naming the key and where it came from.
 */
export async function loadNodeConfig(parameters: LoadNodeConfigParameters = {}): Promise<LoadedNodeConfig> {
  const env = parameters.env ?? process.env
  const flags = parameters.flags ?? {}
  const cwd = parameters.cwd ?? process.cwd()
  const config = defaultNodeConfig(env)
  const sources: Record<string, ConfigSource> = {}
  for (const spec of configOptions) sources[spec.key] = 'default'

  const explicitFile = nonEmpty(stringFlag(flags, 'config')) ?? nonEmpty(env[CONFIG_ENV])
  // The config file may itself sit in the data dir, so the data dir is settled first from flags and env.
  const earlyDataDir =
    nonEmpty(stringFlag(flags, 'data-dir')) ?? nonEmpty(env.OCN_DATA_DIR) ?? defaultDataDir(env)
  const configFile =
    explicitFile !== undefined
      ? resolve(cwd, explicitFile)
      : join(resolve(cwd, earlyDataDir), CONFIG_FILE_NAME)
  const fileValues = await readConfigFile(configFile, explicitFile !== undefined)

  if (fileValues !== undefined) {
    for (const [key, raw] of flattenFile(fileValues, configFile)) {
      const spec = findOption(key)!
      const result = parseJsonValue(spec, raw)
      if (!result.ok) {
        throw new ConfigError('CONFIG_INVALID_VALUE', `config file ${configFile}: ${key} ${result.problem}`, {
          key,
          source: 'file',
        })
      }
      setPath(config, key, result.value)
      sources[key] = 'file'
    }
  }

  for (const spec of configOptions) {
    const text = env[spec.env]
    if (text === undefined || text === '') continue
    const result = parseTextValue(spec, [text])
    if (!result.ok) {
      throw new ConfigError(
        'CONFIG_INVALID_VALUE',
        `environment ${spec.env}: ${spec.key} ${result.problem}`,
        {
          key: spec.key,
          source: 'env',
        },
      )
    }
    setPath(config, spec.key, result.value)
    sources[spec.key] = 'env'
  }

  for (const spec of configOptions) {
    const texts = flagTexts(spec, flags)
    if (texts === undefined) continue
    const result = parseTextValue(spec, texts)
    if (!result.ok) {
      throw new ConfigError('CONFIG_INVALID_VALUE', `flag --${spec.flag}: ${spec.key} ${result.problem}`, {
        key: spec.key,
        source: 'flag',
      })
    }
    setPath(config, spec.key, result.value)
    sources[spec.key] = 'flag'
  }

  // Paths from flags and env are relative to the working directory; paths from the file to the file.
  const dataDirBase = sources.dataDir === 'file' ? join(configFile, '..') : cwd
  config.dataDir = resolve(dataDirBase, config.dataDir)
  if (!isAbsolute(config.chain.deploymentFile)) {
    const base =
      sources['chain.deploymentFile'] === 'default'
        ? config.dataDir
        : sources['chain.deploymentFile'] === 'file'
          ? join(configFile, '..')
          : cwd
    config.chain.deploymentFile = resolve(base, config.chain.deploymentFile)
  }

  return { config, configFile: fileValues === undefined ? undefined : configFile, sources }
}

/** A JSON-ready view of a config (bigints as decimal strings), as `ocn config show` prints it. */
export function nodeConfigToJson(config: NodeConfig): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(config, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
  ) as Record<string, unknown>
}

/** Reads one option's value by dotted key (used by `ocn config show` and the docs test). */
export function getConfigValue(config: NodeConfig, key: string): unknown {
  return getPath(config, key)
}
