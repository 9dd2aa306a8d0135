/**
 * The test tiers of @ocn/node (see README "Test tiers"). A test file listed in neither list
 * is a unit test: no chain, no network sockets, no child processes (the unit tier's setup
 * file enforces that). Each entry says why the file is not a unit test.
 */
export const integration: Record<string, string> = {
  'test/api/access.test.ts': 'serves the HTTP API on a TCP port (about 1 s)',
  'test/api/api.test.ts': 'serves the HTTP API on a TCP port',
  'test/api/daemon.test.ts': 'starts daemons: libp2p over TCP and the HTTP API',
  'test/api/libp2p-metrics.test.ts': 'libp2p over TCP',
  'test/api/submit.test.ts': 'serves the HTTP API on a TCP port',
  'test/api/roles.test.ts': 'serves the HTTP API on a TCP port (well under 1 s)',
  'test/attribution/attribution.test.ts': 'starts anvil',
  'test/attribution/finetune.test.ts': 'forks the attribution process (verifier replay, ~3 s)',
  'test/channels/channels.test.ts': 'starts anvil; libp2p over TCP',
  'test/chain/rpc-fetch.test.ts': 'serves JSON-RPC on a TCP port on 127.0.0.1 (well under 1 s)',
  'test/executor/checks.test.ts': 'forks executor worker processes',
  'test/executor/formats.test.ts': 'forks executor worker processes',
  'test/executor/generate.test.ts': 'forks executor worker processes',
  'test/executor/inference.test.ts': 'forks executor worker processes',
  'test/executor/limits.test.ts': 'forks executor worker processes; runs nvidia-smi',
  'test/executor/replay.test.ts': 'forks executor worker processes',
  'test/executor/sequence.test.ts': 'runs ONNX Runtime sessions in executor worker threads (~5 s)',
  'test/executor/tolerance.test.ts': 'forks executor worker processes',
  'test/executor/training.test.ts': 'forks executor worker processes',
  'test/p2p/artifact.test.ts': 'libp2p over TCP',
  'test/p2p/gossip.test.ts': 'libp2p over TCP',
  'test/p2p/graylist-gate.test.ts': 'libp2p over TCP',
  'test/p2p/host.test.ts': 'libp2p over TCP',
  'test/p2p/ping-timeout.test.ts': 'libp2p over TCP',
  'test/p2p/protocols.test.ts': 'libp2p over TCP',
  'test/p2p/validation.test.ts': 'libp2p over TCP',
  'test/p2p/yamux-window.test.ts': 'libp2p over TCP through a counting proxy',
  'test/p2p/noise-frames.test.ts': 'libp2p over TCP, writes counted at the socket',
  'test/roles/chain.test.ts': 'starts anvil',
  'test/roles/court.test.ts': 'starts anvil',
  'test/roles/prepaid-funds.test.ts': 'starts anvil',
  'test/roles/settlement-batch.test.ts': 'starts anvil',
  'test/roles/token-delivery.test.ts': 'two libp2p nodes on 127.0.0.1',
  'test/roles/zk.test.ts': 'builds a circuit; starts anvil',
  'test/state/state.test.ts': 'spawns a node process that is killed mid-write',
}

export const system: Record<string, string> = {}
