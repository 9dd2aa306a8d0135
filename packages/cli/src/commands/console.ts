import { readApiToken } from '@ocn/node'
import type { Command } from '../command.js'
import { loadConfigFor } from '../context.js'
import { resolveApiUrl } from './job.js'

/**
 * The web console's address. The token goes in the URL fragment, which a browser never
 * sends to a server or a proxy; the page moves it into its tab's session storage.
 */
export const consoleCommand: Command = {
  path: ['console'],
  summary: "show the address of the node's web console (served by the running daemon)",
  usage: 'ocn console --print-url [--api-url <url>] [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    'print-url': { type: 'boolean', description: 'print the URL with the API token (keep it private)' },
    'api-url': {
      type: 'string',
      value: '<url>',
      description: "the daemon's API (default: the one announced in the data dir)",
    },
  },
  async run(context) {
    const { config } = await loadConfigFor(context)
    const api = await resolveApiUrl(context, config)
    const token = await readApiToken(config.dataDir)
    const withToken = token === undefined ? `${api}/` : `${api}/#token=${token}`
    const url = context.flags['print-url'] === true ? withToken : `${api}/`
    const hint =
      token === undefined
        ? 'no API token yet: run `ocn init` to create one (needed to change anything from the page)'
        : context.flags['print-url'] === true
          ? 'the URL holds the API token: do not share it'
          : 'add --print-url for the address with the API token'
    return { json: { url, tokenPresent: token !== undefined }, text: `${url}\n${hint}` }
  },
}
