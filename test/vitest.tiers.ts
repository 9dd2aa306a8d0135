/**
 * The test tiers of the end-to-end workspace (see README "Test tiers"): every test here runs
 * a whole network, so every file is a system test. Each entry says what the file starts.
 */
export const integration: Record<string, string> = {}

export const system: Record<string, string> = {
  'e2e/attribution.test.ts': 'anvil and daemons over libp2p TCP; the attributor child process',
  'e2e/hostile.test.ts':
    'anvil and two daemons over libp2p TCP; four hostile libp2p peers flood gossip and stall streams',
  'e2e/fresh-clone.test.ts': 'clones the repository, npm ci and a full build in child processes',
  'e2e/chaos.test.ts': 'a devnet of ocn processes, killed (SIGKILL) and restarted on a seeded schedule',
  'e2e/crash.test.ts': 'a devnet of ocn processes, killed and restarted',
  'e2e/lifecycle.test.ts': 'anvil and five daemons over libp2p TCP',
  'e2e/models.test.ts': 'anvil and daemons over libp2p TCP; spawns ocn',
  'e2e/prebid.test.ts': 'anvil and daemons over libp2p TCP',
  'e2e/prepaid.test.ts': 'anvil and two daemons over libp2p TCP',
  'e2e/sybil.test.ts': 'anvil and daemons over libp2p TCP; a foreign bidding peer over TCP',
  'e2e/verification.test.ts':
    'anvil and five daemons over libp2p TCP; ORT replays; headless Chromium on three consoles (e2e/console.ts)',
  'e2e/zk.test.ts': 'anvil and daemons over libp2p TCP; builds a circuit',
}
