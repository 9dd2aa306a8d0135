/** The real `DoctorProbes`: the chain over viem, TCP sockets, statfs and ONNX Runtime. */
import { statfs } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { installedProviders, isNodeError } from '@ocn/node'
import type { Address } from 'viem'
import { openChain, readAccountBalances } from './chain-access.js'
import type { DoctorProbes } from './doctor-checks.js'

/** A socket probe that gets no answer in this long counts as unreachable. */
const SOCKET_TIMEOUT_MS = 3_000

function bind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)))
  })
}

function connect(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: SOCKET_TIMEOUT_MS })
    socket.once('connect', () => {
      socket.destroy()
      resolve(undefined)
    })
    socket.once('timeout', () => {
      socket.destroy()
      resolve(`no answer in ${SOCKET_TIMEOUT_MS} ms`)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

export const realDoctorProbes: DoctorProbes = {
  async chain(config, address) {
    try {
      const access = await openChain(config, address as Address)
      const balances = await readAccountBalances(access)
      return { chainId: access.chainId, ...balances }
    } catch (error) {
      if (!isNodeError(error)) throw error
      return { error: { code: error.code, message: error.shortMessage, fix: error.details } }
    }
  },
  bind,
  connect,
  async freeBytes(path) {
    const stats = await statfs(path, { bigint: true })
    return stats.bavail * stats.bsize
  },
  executionProviders: () => installedProviders(),
}
