/**
 * The test tiers of a workspace package (see README "Test tiers"), as vitest projects:
 *
 * - unit: every test file that the package's vitest.tiers.ts does not list. No chain, no
 *   network sockets, no child processes (unit-guard.mjs enforces that), fast.
 * - integration: the files listed in `integration`: anvil, libp2p over TCP, child
 *   processes, circuits, within one package.
 * - system: the files listed in `system`: devnets of several processes, end to end.
 *
 * Run one tier with `vitest run --project unit` (the packages' `test:<tier>` scripts).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configDefaults, defineConfig } from 'vitest/config'

/** What every package's tests share unless its config says otherwise. */
const testDefaults = {
  // libp2p 3 calls Promise.withResolvers, which Node 20 lacks
  setupFiles: ['@ocn/protocol/polyfill'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
}

export const unitGuard = fileURLToPath(new URL('./unit-guard.mjs', import.meta.url))

/**
 * @param {object} options
 * @param {string} options.root the package folder (the config's `import.meta.dirname`)
 * @param {string[]} [options.include] every test file of the package, as globs
 * @param {Record<string, string>} options.integration test file -> why it is not a unit test
 * @param {Record<string, string>} options.system test file -> why it is a system test
 * @param {import('vitest/config').ViteUserConfig['test']} [options.test] test options over the defaults below
 */
export function tieredConfig({ root, include = ['test/**/*.test.ts'], integration, system, test = {} }) {
  const listed = [...Object.keys(integration), ...Object.keys(system)]
  const missing = listed.filter((file) => !existsSync(join(root, file)))
  if (missing.length > 0) {
    throw new Error(`vitest.tiers.ts in ${root} lists test files that do not exist: ${missing.join(', ')}`)
  }
  const twice = Object.keys(integration).filter((file) => file in system)
  if (twice.length > 0) throw new Error(`vitest.tiers.ts in ${root} lists in two tiers: ${twice.join(', ')}`)
  return defineConfig({
    test: {
      ...testDefaults,
      ...test,
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            include,
            exclude: [...configDefaults.exclude, ...listed],
            setupFiles: [unitGuard],
          },
        },
        { extends: true, test: { name: 'integration', include: Object.keys(integration) } },
        { extends: true, test: { name: 'system', include: Object.keys(system) } },
      ],
    },
  })
}
