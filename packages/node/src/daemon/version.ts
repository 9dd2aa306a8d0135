import { readFileSync } from 'node:fs'

let cached: string | undefined

/** The @ocn/node version from its package.json (two levels up from src/ and from dist/). */
export function nodeVersion(): string {
  if (cached === undefined) {
    try {
      const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
      cached = (JSON.parse(text) as { version?: string }).version ?? '0.0.0'
    } catch {
      cached = '0.0.0'
    }
  }
  return cached
}
