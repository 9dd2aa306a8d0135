import { loadNodeKeys, type NodeKeys, readNodeKeyInfo } from '@ocn/node'
import { type CommandContext, type FlagSpec, stringFlag } from '../command.js'
import { resolvePassphrase } from '../passphrase.js'

/** The flag every command that signs with the node keys accepts. */
export const passphraseFlag: Record<string, FlagSpec> = {
  'passphrase-file': {
    type: 'string',
    value: '<file>',
    description: 'passphrase of encrypted keys (or set OCN_PASSPHRASE; asked on a terminal otherwise)',
  },
}

/** Loads the node keys of `dataDir`, asking for the passphrase only when they are encrypted. */
export async function loadKeysFor(context: CommandContext, dataDir: string): Promise<NodeKeys> {
  const info = await readNodeKeyInfo(dataDir)
  const passphrase = await resolvePassphrase({
    io: context.io,
    passphraseFile: stringFlag(context.flags, 'passphrase-file'),
    prompt: info.encrypted,
    confirm: false,
  })
  return loadNodeKeys({ dataDir, passphrase })
}
