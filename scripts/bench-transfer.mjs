#!/usr/bin/env node
/**
 * Artifact transfer benchmark: the same file moved over loopback two ways, in one run:
 * 1. `/ocn/artifact/1.0.0` between two libp2p nodes (TCP + Noise + Yamux), the receiver
 *    hashing while it writes into its artifact store (fsync + rename), and
 * 2. a plain TCP socket piping the file from disk into a file on disk (fsynced).
 * Prints MB/s for both and the ratio, plus the process's peak RSS during the libp2p
 * transfer (bounded memory: it should not grow with the artifact size).
 *
 * Usage: npm run bench:transfer -- [--mb 256] [--json]
 */
import '@ocn/protocol/polyfill'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { createArtifactStore } from '../packages/node/dist/artifacts/index.js'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { createNetwork } from '../packages/node/dist/p2p/index.js'

const { values: args } = parseArgs({
  options: { mb: { type: 'string', default: '256' }, json: { type: 'boolean', default: false } },
})
const BYTES = Number(args.mb) * 2 ** 20
const say = (...line) => (args.json ? console.error(...line) : console.log(...line))
const MB = 1e6

async function makeNode(dir) {
  const store = createArtifactStore({ directory: dir }, { logger: silentLogger })
  await store.start()
  const net = await createNetwork({ host: { dht: false } }, { logger: silentLogger, store })
  await net.start()
  return { net, store }
}

async function rawTcpCopy(sourcePath, targetPath) {
  const server = createServer((socket) => {
    pipeline(createReadStream(sourcePath, { highWaterMark: 256 * 1024 }), socket).catch(() => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const start = performance.now()
  const socket = tcpConnect(port, '127.0.0.1')
  const out = createWriteStream(targetPath)
  await pipeline(socket, out)
  // the artifact store fsyncs before it renames; make the baseline equally durable
  const handle = await open(targetPath, 'r+')
  await handle.sync()
  await handle.close()
  const seconds = (performance.now() - start) / 1000
  server.close()
  return seconds
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'ocn-bench-transfer-'))
  try {
    const sender = await makeNode(join(root, 'a'))
    const receiver = await makeNode(join(root, 'b'))
    await receiver.net.host.dial(sender.net.host.getMultiaddrs()[0])

    say(`writing ${args.mb} MiB of random bytes into the sender's store...`)
    const chunks = (function* () {
      for (let left = BYTES; left > 0; left -= 2 ** 20) yield randomBytes(Math.min(2 ** 20, left))
    })()
    const { hash } = await sender.store.put(chunks)
    const sourcePath = join(root, 'a', 'sha256', hash.slice(2))

    // warm up the connection and code paths with a small artifact
    const warm = await sender.store.putBytes(randomBytes(2 ** 20))
    await receiver.net.artifacts.fetch(warm.hash, [sender.net.peerId])

    // live memory: JS heap plus ArrayBuffers (chunks in flight); RSS also counts garbage
    // that V8 has not collected yet and pages it has not returned to the OS
    const live = () => {
      const m = process.memoryUsage()
      return m.heapUsed + m.arrayBuffers
    }
    global.gc?.()
    const baseLive = live()
    const baseRss = process.memoryUsage().rss
    let peakLive = baseLive
    let peakRss = baseRss
    const sampler = setInterval(() => {
      peakLive = Math.max(peakLive, live())
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }, 20)
    const start = performance.now()
    const result = await receiver.net.artifacts.fetch(hash, [sender.net.peerId])
    const libp2pSeconds = (performance.now() - start) / 1000
    clearInterval(sampler)
    if (result.hash !== hash || result.size !== BYTES) throw new Error('transfer did not verify')

    const tcpSeconds = await rawTcpCopy(sourcePath, join(root, 'raw-copy'))

    await receiver.net.stop()
    await sender.net.stop()

    const libp2pMBps = BYTES / MB / libp2pSeconds
    const rawTcpMBps = BYTES / MB / tcpSeconds
    const out = {
      bytes: BYTES,
      libp2pMBps: Math.round(libp2pMBps * 10) / 10,
      rawTcpMBps: Math.round(rawTcpMBps * 10) / 10,
      ratio: Math.round((libp2pMBps / rawTcpMBps) * 1000) / 1000,
      peakLiveMemoryGrowthMB: Math.round((peakLive - baseLive) / MB),
      peakRssGrowthMB: Math.round((peakRss - baseRss) / MB),
    }
    say(
      `libp2p artifact protocol: ${out.libp2pMBps} MB/s (hash-verified, fsynced); raw TCP: ${out.rawTcpMBps} MB/s; ` +
        `ratio ${out.ratio}; during the transfer peak heap+buffers growth ${out.peakLiveMemoryGrowthMB} MB, ` +
        `peak RSS growth ${out.peakRssGrowthMB} MB`,
    )
    if (args.json) console.log(JSON.stringify(out))
    else console.log(out)
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
