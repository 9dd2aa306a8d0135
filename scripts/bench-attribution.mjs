#!/usr/bin/env node
/**
 * Compares the two attribution methods on the devnet's datanet: the same generator
 * (writeDatanetFixture from packages/cli/src/devnet/datanet.ts), the same training spec and
 * the same label-noise contributor (index 1). Trains once with the real executor, then runs
 * each method through the real attribution process (createAttributor: a forked worker, as a
 * provider and a verifier run it), timing the median of --reps runs (secondsPerMethod); the
 * log also gives the same computation's time in this process, without the worker's start-up.
 *
 *   node scripts/bench-attribution.mjs [--json] [--rows-per-contributor N] [--contributors N] [--reps N]
 *
 * With --json the last stdout line is one JSON object: method (the Shapley method compared
 * against TracIn), contributors, rows, secondsPerMethod (per method name), rankAgreement
 * (Spearman correlation of the two contributor rankings) and noiseContributorRank (the
 * label-noise contributor's rank under each method, 1 = most credited).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeDatanetFixture } from '../packages/cli/dist/devnet/datanet.js'
import { computeAttributionResult } from '../packages/node/dist/attribution/compute.js'
import { createAttributor } from '../packages/node/dist/attribution/index.js'
import {
  cpuReplayProfile,
  createExecutor,
  decodeSafetensors,
  ortVersion,
  parseJobSpec,
} from '../packages/node/dist/executor/index.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const arg = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const log = (...a) => (json ? console.error(...a) : console.log(...a))

const CONTRIBUTORS = arg('--contributors', 3)
const PER = arg('--rows-per-contributor', 40) // the devnet's size
const REPS = arg('--reps', 3)
const NOISY = 1 // as in the devnet's attribution phase
const METHODS = ['tracin-cp-v1', 'knn-shapley-v1']

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** 1-based ranks, highest score first; ties share their mean rank. */
function ranks(scores) {
  const order = scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  const out = new Array(scores.length)
  for (let i = 0; i < order.length; ) {
    let j = i
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 + 1
    i = j + 1
  }
  return out
}

/** Spearman's rho: Pearson correlation of the rank vectors (handles ties). */
function spearman(a, b) {
  const ra = ranks(a)
  const rb = ranks(b)
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length
  const ma = mean(ra)
  const mb = mean(rb)
  let num = 0
  let da = 0
  let db = 0
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i] - ma) * (rb[i] - mb)
    da += (ra[i] - ma) ** 2
    db += (rb[i] - mb) ** 2
  }
  return da === 0 || db === 0 ? 0 : num / Math.sqrt(da * db)
}

const dir = await mkdtemp(join(tmpdir(), 'ocn-bench-attribution-'))
const executor = createExecutor({ options: { poolSize: 1 } })
try {
  const contributors = Array.from(
    { length: CONTRIBUTORS },
    (_v, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`,
  )
  const fixture = await writeDatanetFixture(dir, { contributors, noisy: [NOISY], rowsPerContributor: PER })
  const { tensors } = decodeSafetensors(new Uint8Array(await readFile(fixture.inputsPath)))
  const raw = structuredClone(fixture.spec)
  // the requester's default: this host's CPU replay profile (roles/requester/inputs.ts)
  raw.profile = cpuReplayProfile(ortVersion(), raw.batchSize, 'feeds')
  const spec = parseJobSpec(raw)
  await executor.start()
  const trained = await executor.runTraining({ spec, dataset: { x: tensors.x, y: tensors.y } })
  log(`trained: ${trained.checkpoints.length} checkpoints over ${fixture.manifest.rows} rows`)

  const attributor = createAttributor()
  const results = {}
  const secondsPerMethod = {}
  for (const method of METHODS) {
    const request = {
      spec,
      method: { method },
      manifest: fixture.manifest,
      dataset: { x: tensors.x, y: tensors.y },
      validation: { x: tensors.x_val, y: tensors.y_val },
      checkpoints: trained.checkpoints,
      checkpointHashes: trained.checkpointHashes,
    }
    const seconds = []
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now()
      const result = await attributor.compute(request)
      seconds.push((performance.now() - t0) / 1000)
      if (results[method] && results[method].resultHash !== result.resultHash) {
        throw new Error(`${method} is not deterministic: two runs hashed differently`)
      }
      results[method] = result
    }
    secondsPerMethod[method] = Number(median(seconds).toFixed(4))
    // the same computation in this process: the cost without the worker's start-up
    const inProcess = []
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now()
      await computeAttributionResult(request)
      inProcess.push((performance.now() - t0) / 1000)
    }
    log(
      `${method}: median ${secondsPerMethod[method]} s (${median(inProcess).toFixed(4)} s without the worker process); scores ${results[method].scores.map((s) => s.toPrecision(4)).join(', ')}; weights ${results[method].weights.map((w) => w.weight).join(', ')}`,
    )
  }
  const [tracin, shapley] = METHODS.map((m) => results[m].scores)
  const report = {
    method: 'knn-shapley-v1',
    contributors: CONTRIBUTORS,
    rows: fixture.manifest.rows,
    secondsPerMethod,
    rankAgreement: Number(spearman(tracin, shapley).toFixed(4)),
    noiseContributorRank: Object.fromEntries(METHODS.map((m) => [m, ranks(results[m].scores)[NOISY]])),
  }
  log(
    `rank agreement (Spearman) ${report.rankAgreement}; label-noise contributor ranks ${JSON.stringify(report.noiseContributorRank)} of ${CONTRIBUTORS}`,
  )
  if (json) console.log(JSON.stringify(report))
} finally {
  await executor.stop()
  await rm(dir, { recursive: true, force: true })
}
