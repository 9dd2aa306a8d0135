/**
 * The test tiers of @ocn/contracts-client (see README "Test tiers"). A test file listed in
 * neither list is a unit test: no chain, no network sockets, no child processes (the unit
 * tier's setup file enforces that). Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/attribution-fees.test.ts': 'starts anvil',
  'test/attribution.test.ts': 'starts anvil',
  'test/award-rules.test.ts': 'starts anvil',
  'test/batch.test.ts': 'starts anvil',
  'test/channels.property.test.ts': 'starts anvil',
  'test/channels.test.ts': 'starts anvil',
  'test/compact.test.ts': 'starts anvil and a juror pool',
  'test/court.test.ts': 'starts anvil',
  'test/court-jury.test.ts': 'starts anvil',
  'test/court-governance.test.ts': 'starts anvil',
  'test/datanet.test.ts': 'starts anvil',
  'test/devchain.test.ts': 'starts anvil; spawns a node process that owns it',
  'test/eip712.test.ts': 'starts anvil',
  'test/governance.test.ts': 'starts anvil',
  'test/lifecycle.test.ts': 'starts anvil',
  'test/market-extension.test.ts': 'starts anvil',
  'test/model-registry.test.ts': 'starts anvil',
  'test/model-release.test.ts': 'starts anvil and a juror pool',
  'test/prepaid.test.ts': 'starts anvil and a juror pool',
  'test/property.test.ts': 'starts anvil',
  'test/property-court.test.ts': 'starts anvil',
  'test/property-datanet.test.ts': 'starts anvil',
  'test/reverts.test.ts': 'starts anvil',
  'test/watcher.test.ts': 'starts anvil',
  'test/zk-registry.test.ts': 'starts anvil',
}

export const system: Record<string, string> = {}
