/**
 * The test tiers of @ocn/console (see README "Test tiers"). A file listed in neither list is
 * a unit test. Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/browser.test.ts': 'serves a node API on a TCP port and drives headless Chromium (about 5 s)',
}

export const system: Record<string, string> = {}
