import type { UserConfig, ViteUserConfig } from 'vitest/config'

export declare const unitGuard: string

/** The test tiers of a workspace package as vitest projects; see tiers.mjs. */
export declare function tieredConfig(options: {
  root: string
  include?: string[]
  integration: Record<string, string>
  system: Record<string, string>
  test?: NonNullable<ViteUserConfig['test']>
}): UserConfig
