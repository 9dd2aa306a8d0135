import { configOptions, getConfigValue, nodeConfigToJson } from '@ocn/node'
import type { Command } from '../command.js'
import { loadConfigFor } from '../context.js'

function formatValue(value: unknown): string {
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.join(', ')
  return String(value)
}

export const configShowCommand: Command = {
  path: ['config', 'show'],
  summary: 'print the effective configuration and where each value comes from',
  usage: 'ocn config show [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {},
  async run(context) {
    const loaded = await loadConfigFor(context)
    const width = Math.max(...configOptions.map((spec) => spec.key.length))
    const lines = [`config file: ${loaded.configFile ?? '(none)'}`]
    for (const spec of configOptions) {
      const value = formatValue(getConfigValue(loaded.config, spec.key))
      lines.push(`${spec.key.padEnd(width)}  ${value}  (${loaded.sources[spec.key]})`)
    }
    return {
      json: {
        configFile: loaded.configFile ?? null,
        config: nodeConfigToJson(loaded.config),
        sources: loaded.sources,
      },
      text: lines.join('\n'),
    }
  },
}
