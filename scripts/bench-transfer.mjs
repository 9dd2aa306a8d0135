#!/usr/bin/env node
/**
 * Artifact transfer benchmark: the same file moved over loopback two ways, rounds
 * interleaved (libp2p, raw, libp2p, raw, ...) so both see the same machine load; medians:
 * 1. `/ocn/artifact/1.0.0` between two libp2p nodes (TCP + Noise + Yamux), the receiver
 *    hashing while it writes into its artifact store (fsync + rename), and
 * 2. a plain TCP socket piping the file from disk into a file on disk (fsynced).
 * The sending side (the libp2p node serving the artifact, and the raw TCP server) runs in a
 * child process, as a peer would: two nodes in one process would share one event loop for
 * both ends' Noise and Yamux work, which no deployment does. The receiving side runs here.
 * Prints MB/s for both and the ratio, plus the receiving process's peak memory growth during
 * the libp2p transfers (bounded memory: it should not grow with the artifact size).
 *
 * Usage: npm run bench:transfer -- [--mb 256] [--rounds 3] [--json]
 */
import '@ocn/protocol/polyfill'
import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createArtifactStore } from '../packages/node/dist/artifacts/index.js'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { createNetwork } from '../packages/node/dist/p2p/index.js'

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    serve: { type: 'string' },
  },
})
const BYTES = Number(args.mb) * 2 ** 20
const ROUNDS = Number(args.rounds)
const say = (...line) => (args.json ? console.error(...line) : console.log(...line))
const MB = 1e6

async function makeNode(dir) {
  const store = createArtifactStore({ directory: dir }, { logger: silentLogger })
  await store.start()
  const net = await createNetwork({ host: { dht: false } }, { logger: silentLogger, store })
  await net.start()
  return { net, store }
}

/** The child: the sending node and a raw TCP server of the same file, until the parent goes. */
async function serve(dir) {
  const sender = await makeNode(dir)
  const chunks = (function* () {
    for (let left = BYTES; left > 0; left -= 2 ** 20) yield randomBytes(Math.min(2 ** 20, left))
  })()
  const { hash } = await sender.store.put(chunks)
  const warm = await sender.store.putBytes(randomBytes(2 ** 20))
  const sourcePath = join(dir, 'sha256', hash.slice(2))
  const server = createServer((socket) => {
    pipeline(createReadStream(sourcePath, { highWaterMark: 256 * 1024 }), socket).catch(() => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.send({
    addr: sender.net.host.getMultiaddrs()[0].toString(),
    peerId: sender.net.peerId,
    hash,
    warm: warm.hash,
    tcpPort: server.address().port,
  })
  process.on('disconnect', () => process.exit(0))
}

/** Starts the child and waits for what it serves. */
function startSender(dir) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', dir, '--mb', String(args.mb)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sending process did not start in 120 s')), 120_000)
    child.once('message', (m) => {
      clearTimeout(timer)
      resolve({ child, ...m })
    })
    child.once('exit', (code) => reject(new Error(`the sending process exited with code ${code}`)))
  })
}

async function rawTcpCopy(port, targetPath) {
  const start = performance.now()
  const socket = tcpConnect(port, '127.0.0.1')
  const out = createWriteStream(targetPath)
  await pipeline(socket, out)
  // the artifact store fsyncs before it renames; make the baseline equally durable
  const handle = await open(targetPath, 'r+')
  await handle.sync()
  await handle.close()
  const seconds = (performance.now() - start) / 1000
  await rm(targetPath)
  return seconds
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'ocn-bench-transfer-'))
  let child
  try {
    say(`the sending process writes ${args.mb} MiB of random bytes into its store...`)
    const sender = await startSender(join(root, 'a'))
    child = sender.child
    const receiverDir = join(root, 'b')
    const receiver = await makeNode(receiverDir)
    await receiver.net.host.dial(multiaddr(sender.addr))
    // warm up the connection and code paths with a small artifact
    await receiver.net.artifacts.fetch(sender.warm, [sender.peerId])

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
    const libp2pTimes = []
    const tcpTimes = []
    for (let r = 0; r < ROUNDS; r++) {
      const sampler = setInterval(() => {
        peakLive = Math.max(peakLive, live())
        peakRss = Math.max(peakRss, process.memoryUsage().rss)
      }, 20)
      const start = performance.now()
      const result = await receiver.net.artifacts.fetch(sender.hash, [sender.peerId])
      libp2pTimes.push((performance.now() - start) / 1000)
      clearInterval(sampler)
      if (result.hash !== sender.hash || result.size !== BYTES || !result.created)
        throw new Error('transfer did not verify')
      // write-once store: the next round fetches it again
      await rm(join(receiverDir, 'sha256', sender.hash.slice(2)))
      tcpTimes.push(await rawTcpCopy(sender.tcpPort, join(root, 'raw-copy')))
      say(
        `round ${r}: libp2p ${(BYTES / MB / libp2pTimes.at(-1)).toFixed(1)} MB/s, raw TCP ${(BYTES / MB / tcpTimes.at(-1)).toFixed(1)} MB/s`,
      )
    }
    await receiver.net.stop()

    const libp2pMBps = BYTES / MB / median(libp2pTimes)
    const rawTcpMBps = BYTES / MB / median(tcpTimes)
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
        `ratio ${out.ratio} (medians of ${ROUNDS} rounds); receiver's peak heap+buffers growth ${out.peakLiveMemoryGrowthMB} MB, ` +
        `peak RSS growth ${out.peakRssGrowthMB} MB`,
    )
    if (args.json) console.log(JSON.stringify(out))
    else console.log(out)
  } finally {
    child?.kill()
    await rm(root, { recursive: true, force: true })
  }
}

const run = args.serve === undefined ? main() : serve(args.serve)
run.catch((error) => {
  console.error(error)
  process.exit(1)
})
