/**
 * Finds the system's headless Chromium for the browser test and the console bench: the
 * OCN_CHROMIUM variable, else `chromium` (Debian's package), `chromium-browser` or
 * `google-chrome` on PATH. Playwright's own browser download is never used.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']

/** @param {NodeJS.ProcessEnv} [env] @returns {string} */
export function findChromium(env = process.env) {
  const candidates = [
    ...(env.OCN_CHROMIUM === undefined ? [] : [env.OCN_CHROMIUM]),
    ...(env.PATH ?? '').split(delimiter).flatMap((dir) => NAMES.map((name) => join(dir, name))),
  ]
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {}
  }
  throw new Error(
    'headless Chromium not found: install it (Debian/Ubuntu: `apt-get install -y chromium`) ' +
      'or set OCN_CHROMIUM to the browser executable',
  )
}
