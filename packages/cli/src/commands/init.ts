import { mkdir } from 'node:fs/promises'
import { ensureApiToken, initNodeKeys } from '@ocn/node'
import { type Command, stringFlag } from '../command.js'
import { loadConfigFor } from '../context.js'
import { resolvePassphrase } from '../passphrase.js'

export const initCommand: Command = {
  path: ['init'],
  summary: 'create the node keys (EVM account and libp2p identity) in the data dir',
  usage: 'ocn init [--force] [--encrypt | --passphrase-file <file>]',
  configFlags: false,
  maxPositionals: 0,
  flags: {
    force: {
      type: 'boolean',
      description: 'replace existing keys (the old ones, and stake bound to them, are lost)',
    },
    encrypt: { type: 'boolean', description: 'encrypt the keys with a passphrase asked on the terminal' },
    'passphrase-file': {
      type: 'string',
      value: '<file>',
      description: 'encrypt the keys with the passphrase in this file (or set OCN_PASSPHRASE)',
    },
  },
  async run(context) {
    const { config } = await loadConfigFor(context)
    const passphrase = await resolvePassphrase({
      io: context.io,
      passphraseFile: stringFlag(context.flags, 'passphrase-file'),
      prompt: context.flags.encrypt === true,
      confirm: true,
    })
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    const info = await initNodeKeys({
      dataDir: config.dataDir,
      passphrase,
      force: context.flags.force === true,
    })
    // The local API's bearer token: the console and clients off loopback need it.
    const apiToken = await ensureApiToken(config.dataDir)
    return {
      json: {
        dataDir: config.dataDir,
        apiTokenCreated: apiToken.created,
        address: info.address,
        peerId: info.peerId,
        encrypted: info.encrypted,
        keyFiles: { evm: info.paths.evm, libp2p: info.paths.libp2p },
      },
      text: [
        `Created node keys in ${info.paths.dir}${info.encrypted ? ' (encrypted)' : ''}`,
        `  address  ${info.address}`,
        `  peer id  ${info.peerId}`,
        `  API token ${apiToken.created ? 'created' : 'kept'} (\`ocn console --print-url\` shows the console's address with it)`,
      ].join('\n'),
    }
  },
}
