/**
 * The test tiers of @ocn/prover (see README "Test tiers"). A test file listed in neither
 * list is a unit test: no chain, no network sockets, no child processes (the unit tier's
 * setup file enforces that). Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/zk/inference.test.ts': 'builds a circuit (spawns circom); starts anvil',
  'test/zk/onchain-settle.test.ts': 'builds a circuit (spawns circom); starts anvil',
}

export const system: Record<string, string> = {}
