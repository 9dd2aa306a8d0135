import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { CliError } from './errors.js'
import type { CliIo } from './io.js'

export const PASSPHRASE_ENV = 'OCN_PASSPHRASE'

export interface ResolvePassphraseParameters {
  io: CliIo
  passphraseFile: string | undefined
  /** Prompt on the terminal when no other source gives one (`ocn init --encrypt`). */
  prompt: boolean
  /** Ask twice and compare (when creating keys). */
  confirm: boolean
}

/** Reads a line from a terminal without echoing it. */
function promptHidden(io: CliIo, question: string): Promise<string> {
  const { stdin, stderr } = io
  return new Promise((resolvePromise, reject) => {
    let answer = ''
    stderr.write(question)
    stdin.setRawMode?.(true)
    stdin.resume()
    const onData = (chunk: Buffer | string): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          cleanup()
          stderr.write('\n')
          resolvePromise(answer)
          return
        }
        if (char === '\u0003') {
          cleanup()
          stderr.write('\n')
          reject(new CliError('CLI_PASSPHRASE', 'passphrase entry cancelled'))
          return
        }
        if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1)
        else answer += char
      }
    }
    const cleanup = (): void => {
      stdin.off('data', onData)
      stdin.setRawMode?.(false)
      stdin.pause()
    }
    stdin.on('data', onData)
  })
}

/**
 * The passphrase for key files, from `--passphrase-file`, else `OCN_PASSPHRASE`, else (when
 * asked to and on a terminal) a hidden prompt. Undefined means "no passphrase".
 */
export async function resolvePassphrase(
  parameters: ResolvePassphraseParameters,
): Promise<string | undefined> {
  const { io } = parameters
  if (parameters.passphraseFile !== undefined) {
    const file = resolve(io.cwd, parameters.passphraseFile)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (cause) {
      throw new CliError(
        'CLI_PASSPHRASE',
        `cannot read passphrase file ${file}: ${(cause as Error).message}`,
        { cause },
      )
    }
    // Editors add a final newline; it is not part of the passphrase.
    const passphrase = text.replace(/\r?\n$/, '')
    if (passphrase === '') throw new CliError('CLI_PASSPHRASE', `passphrase file ${file} is empty`)
    return passphrase
  }
  const fromEnv = io.env[PASSPHRASE_ENV]
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  if (!parameters.prompt) return undefined
  if (io.stdin.isTTY !== true) {
    throw new CliError(
      'CLI_PASSPHRASE',
      `no passphrase: set ${PASSPHRASE_ENV} or pass --passphrase-file <file>`,
    )
  }
  const first = await promptHidden(io, 'Passphrase: ')
  if (first === '') throw new CliError('CLI_PASSPHRASE', 'the passphrase must not be empty')
  if (parameters.confirm && (await promptHidden(io, 'Repeat passphrase: ')) !== first) {
    throw new CliError('CLI_PASSPHRASE', 'the passphrases do not match')
  }
  return first
}
