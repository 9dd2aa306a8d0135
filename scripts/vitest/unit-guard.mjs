/**
 * Setup file of the unit test tier (see README "Test tiers"): a unit test may not spawn a
 * child process or open a network socket. This file replaces `child_process`'s spawning
 * functions and the socket entry points of `net` and `dgram` with functions that throw,
 * naming the test file and the list to move it to. worker_threads stay allowed.
 */
import childProcess from 'node:child_process'
import dgram from 'node:dgram'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'
import { dirname, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'

const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const GUARDED = Symbol.for('ocn.unitGuard')

/** The error for a test file that did what the unit tier forbids. */
function violation(what) {
  const testPath = expect.getState().testPath
  const file = testPath ? relative(repoRoot, testPath).split(sep).join('/') : 'a unit test file'
  // packages/node/test/p2p/host.test.ts -> packages/node; test/e2e/x.test.ts -> test
  const cut = file.indexOf('/test/')
  const pkg = file.startsWith('test/') ? 'test' : cut > 0 ? file.slice(0, cut) : '<package>'
  return new Error(
    `unit tier: ${file} ${what}; a unit test may not spawn processes or open sockets, ` +
      `so list it under integration in ${pkg}/vitest.tiers.ts`,
  )
}

function forbid(target, name, what) {
  const original = target[name]
  if (typeof original !== 'function') return
  target[name] = function unitTierForbidden(...args) {
    const detail = typeof args[0] === 'string' ? ` (${name} ${JSON.stringify(args[0])})` : ` (${name})`
    const error = violation(`${what}${detail}`)
    // the stack (and vitest's code frame) starts at the caller, not in this file
    Error.captureStackTrace(error, unitTierForbidden)
    throw error
  }
}

if (!globalThis[GUARDED]) {
  globalThis[GUARDED] = true
  for (const name of ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync']) {
    forbid(childProcess, name, 'spawned a child process')
  }
  forbid(net.Socket.prototype, 'connect', 'opened a socket')
  forbid(net.Server.prototype, 'listen', 'listened on a socket')
  forbid(dgram.Socket.prototype, 'bind', 'bound a UDP socket')
  forbid(dgram.Socket.prototype, 'send', 'sent a UDP datagram')
  // ESM named imports (`import { spawn } from 'node:child_process'`) see the replacements
  syncBuiltinESMExports()
}
