/**
 * The API's bearer token, kept in `<dataDir>/api-token` (mode 0600) next to the keys:
 * `ocn init` creates it, the daemon reads it, `ocn console --print-url` shows it.
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ApiError } from './errors.js'

export const API_TOKEN_FILE = 'api-token'

/** The token in the data dir, or undefined when there is none. */
export async function readApiToken(dataDir: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(join(dataDir, API_TOKEN_FILE), 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ApiError('API_TOKEN_REQUIRED', `cannot read ${join(dataDir, API_TOKEN_FILE)}`, { cause })
  }
  const token = text.trim()
  if (!/^[A-Za-z0-9_-]{32,256}$/.test(token))
    throw new ApiError('API_TOKEN_REQUIRED', `${join(dataDir, API_TOKEN_FILE)} does not hold a token`, {
      details: 'delete it and run `ocn init` to create a new one',
    })
  return token
}

/** Returns the data dir's token, creating one (256 random bits) when there is none. */
export async function ensureApiToken(dataDir: string): Promise<{ token: string; created: boolean }> {
  const existing = await readApiToken(dataDir)
  if (existing !== undefined) return { token: existing, created: false }
  const token = randomBytes(32).toString('base64url')
  // `wx`: two inits racing cannot both write; the loser reads the winner's token.
  try {
    await writeFile(join(dataDir, API_TOKEN_FILE), `${token}\n`, { mode: 0o600, flag: 'wx' })
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause
    return { token: (await readApiToken(dataDir))!, created: false }
  }
  return { token, created: true }
}

/**
 * A node's API base URL with its token as the URL's user part, for callers that hold one URL
 * per node (the devnet, the testnet). @ocn/client never sends it as userinfo: the CLI's
 * devnet client (devnetNodeApi) takes it out and sends it as the bearer token.
 */
export function apiUrlWithToken(baseUrl: string, token: string | undefined): string {
  if (token === undefined || token === '') return baseUrl
  const url = new URL(baseUrl)
  url.username = encodeURIComponent(token)
  return url.toString()
}
