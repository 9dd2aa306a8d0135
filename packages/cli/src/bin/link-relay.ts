#!/usr/bin/env node
/**
 * The testnet's delaying link relay (testnet/link-relay.ts) as a process of its own, run in a
 * node's namespace by the testnet. Not an `ocn` command: only the testnet starts it, through
 * the devnet's process helpers, which pass `--json --data-dir <dir>` (ignored here). It prints
 * one JSON line once it accepts, and stops when its stdin closes (the testnet is gone).
 */
import { parseArgs } from 'node:util'
import { startLinkRelay } from '../testnet/link-relay.js'

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    target: { type: 'string' },
    delays: { type: 'string', default: '{}' },
    'default-delay': { type: 'string', default: '0' },
    json: { type: 'boolean' },
    'data-dir': { type: 'string' },
  },
})
const listen = /^(.+):(\d+)$/.exec(values.listen ?? '')
const target = Number(values.target)
if (listen === null || !Number.isInteger(target)) {
  process.stdout.write(
    `${JSON.stringify({ error: { code: 'TESTNET_RELAY_FAILED', message: 'usage: link-relay --listen <host>:<port> --target <port>' } })}\n`,
  )
  process.exit(2)
}
try {
  await startLinkRelay({
    listenHost: listen[1]!,
    listenPort: Number(listen[2]),
    targetPort: target,
    delays: JSON.parse(values.delays!) as Record<string, number>,
    defaultDelayMs: Number(values['default-delay']),
  })
} catch (error) {
  const message = `the relay cannot listen on ${values.listen}: ${(error as Error).message}`
  process.stdout.write(`${JSON.stringify({ error: { code: 'TESTNET_RELAY_FAILED', message } })}\n`)
  process.exit(1)
}
process.stdout.write(`${JSON.stringify({ status: 'relaying', listen: values.listen, pid: process.pid })}\n`)
process.stdin.resume()
process.stdin.once('close', () => process.exit(0))
process.stdin.once('end', () => process.exit(0))
