/**
 * The test tiers of @ocn/client (see README "Test tiers"). A file listed in neither list is
 * a unit test. Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/client.test.ts': 'serves a real node API on a TCP port (about 1 s)',
}

export const system: Record<string, string> = {}
