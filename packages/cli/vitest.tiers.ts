/**
 * The test tiers of @ocn/cli (see README "Test tiers"). A test file listed in neither list
 * is a unit test: no chain, no network sockets, no child processes (the unit tier's setup
 * file enforces that). Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/channels/cli.test.ts': 'starts anvil; spawns ocn',
  'test/cli/chain.test.ts': 'starts anvil; spawns ocn',
  'test/cli/cli.test.ts': 'spawns ocn',
  'test/cli/gov.test.ts': 'starts anvil; spawns ocn',
  'test/cli/job-follow.test.ts': 'serves the HTTP API on a TCP port; spawns ocn',
  'test/cli/job-results.test.ts': 'serves the HTTP API on a TCP port; spawns ocn',
  'test/cli/zk.test.ts': 'builds a circuit; starts anvil; spawns ocn',
  'test/devnet/processes.test.ts': "spawns ocn through the devnet's process helpers (no devnet)",
}

export const system: Record<string, string> = {
  'test/cli/job.test.ts': 'starts a devnet (anvil and several ocn processes)',
  'test/devnet/devnet.test.ts': 'runs `ocn devnet` (anvil and five ocn processes)',
  'test/devnet/supervision.test.ts': 'runs `ocn devnet` and kills it',
  'test/devnet/zk.test.ts': 'starts a devnet and builds a circuit',
  'test/testnet/testnet.test.ts':
    'needs root: runs `ocn testnet` (network namespaces, veth links, anvil, six ocn processes) and kills a harness',
}
