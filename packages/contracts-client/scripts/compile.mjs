#!/usr/bin/env node
// Compiles contracts/*.sol with solc-js and writes artifacts/ plus src/generated/abis.ts
// (ABIs and bytecode `as const`, so viem infers argument and return types from the Solidity).
// Runs on every build, so it skips all work when the sources, the compiler and the settings
// hash to the same key as the last run.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const contractsDir = join(packageRoot, 'contracts')
const artifactsDir = join(packageRoot, 'artifacts')
const generatedDir = join(packageRoot, 'src', 'generated')
const generatedFile = join(generatedDir, 'abis.ts')
const cacheFile = join(artifactsDir, '.compile-key')

/** The contracts whose ABI and bytecode the client needs, by file and contract name. */
const exported = [
  ['OpenToken.sol', 'OpenToken', 'openToken'],
  ['StakeManager.sol', 'StakeManager', 'stakeManager'],
  ['JobMarket.sol', 'JobMarket', 'jobMarket'],
  ['JobMarketExtension.sol', 'JobMarketExtension', 'jobMarketExtension'],
  ['DisputeCourt.sol', 'DisputeCourt', 'disputeCourt'],
  ['ZkVerifierRegistry.sol', 'ZkVerifierRegistry', 'zkVerifierRegistry'],
  ['ModelRegistry.sol', 'ModelRegistry', 'modelRegistry'],
  ['ModelMonitor.sol', 'ModelMonitor', 'modelMonitor'],
  ['@openzeppelin/contracts/access/manager/AccessManager.sol', 'AccessManager', 'accessManager'],
  ['governance/OpenGovernor.sol', 'OpenGovernor', 'openGovernor'],
  ['@openzeppelin/contracts/governance/TimelockController.sol', 'TimelockController', 'timelockController'],
  ['governance/Council.sol', 'Council', 'council'],
  ['channels/PaymentChannels.sol', 'PaymentChannels', 'paymentChannels'],
  ['attribution/AttributionPool.sol', 'AttributionPool', 'attributionPool'],
  ['datanet/DatanetRegistry.sol', 'DatanetRegistry', 'datanetRegistry'],
]

const settings = {
  evmVersion: 'cancun',
  // 2 000, not 10 000: JobMarket must stay under the EIP-170 size limit (anvil enforces it), and
  // at 10 000 the optimizer's inlining grows it past; the happy path costs ~400 gas more at 2 000.
  optimizer: { enabled: true, runs: 2_000 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
}

/**
 * Sources compiled on their own with fewer optimizer runs: the DisputeCourt is called only in
 * disputes (rare, and never on the happy path), so its size matters more than its per-call gas,
 * and at 10 000 runs it would exceed the EIP-170 limit. The JobMarket with batched settlement
 * and account ids is 25 023 bytes at 2 000 runs and 23 906 at 1 000 (limit 24 576); with per-run
 * stake locks and the commit block it is 24 755 at 1 000 and 23 446 at 700; with prepaid balances
 * it is 24 679 at 700, 24 486 at 550 and 24 363 at 500 (500: room for small fixes, and the
 * default-path award and finalize cost within ~150 gas of 700). Since then its cold functions
 * run in the JobMarketExtension (docs/contracts.md, "Two contracts, one storage"): at 500 runs
 * the market is 20 868 bytes with compact batches and the extension 14 689. Only these
 * files import each other (the DisputeCourt reads the JobMarket's types), so nothing in the main
 * compile needs them.
 */
const sizeOptimized = { 'DisputeCourt.sol': 200, 'JobMarket.sol': 500, 'JobMarketExtension.sol': 500 }

function listSources(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? listSources(join(dir, e.name)) : e.name.endsWith('.sol') ? [join(dir, e.name)] : [],
    )
    .sort()
}

/** Resolves `@openzeppelin/...` and relative imports; everything else is an error. */
function readImport(path) {
  try {
    const local = join(contractsDir, path)
    if (existsSync(local)) return { contents: readFileSync(local, 'utf8') }
    return { contents: readFileSync(require.resolve(path), 'utf8') }
  } catch (err) {
    return { error: `cannot resolve import ${path}: ${err.message}` }
  }
}

const files = listSources(contractsDir)
const sources = Object.fromEntries(
  files.map((f) => [relative(contractsDir, f).split('\\').join('/'), { content: readFileSync(f, 'utf8') }]),
)
const solcVersion = require('solc/package.json').version
const ozVersion = require('@openzeppelin/contracts/package.json').version
const key = createHash('sha256')
  .update(
    JSON.stringify({ sources, settings, sizeOptimized, solcVersion, ozVersion, exported, generator: 4 }),
  )
  .digest('hex')

if (existsSync(cacheFile) && existsSync(generatedFile) && readFileSync(cacheFile, 'utf8') === key) {
  process.exit(0)
}

const solc = require('solc')
const mainSources = Object.fromEntries(Object.entries(sources).filter(([name]) => !(name in sizeOptimized)))
const input = {
  language: 'Solidity',
  sources: {
    ...mainSources,
    // compiled as a source of its own so its ABI and bytecode come out too
    'AccessManager.sol': {
      content:
        '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\nimport "@openzeppelin/contracts/access/manager/AccessManager.sol";',
    },
  },
  settings,
}
const started = Date.now()

/** Compiles one standard-JSON input; prints warnings outside OpenZeppelin, exits on errors. */
function compile(input) {
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: readImport }))
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  for (const e of output.errors ?? []) {
    if (e.severity !== 'error' && !e.sourceLocation?.file?.startsWith('@openzeppelin')) {
      process.stderr.write(e.formattedMessage)
    }
  }
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(e.formattedMessage)
    process.stderr.write(`solc ${solcVersion}: ${errors.length} error(s)\n`)
    process.exit(1)
  }
  return output
}

const output = compile(input)
for (const [file, runs] of Object.entries(sizeOptimized)) {
  const own = compile({
    language: 'Solidity',
    sources: { [file]: sources[file] },
    settings: {
      ...settings,
      optimizer: { enabled: true, runs },
      // only this file's contracts: the imported ones are not generated again
      outputSelection: { [file]: { '*': settings.outputSelection['*']['*'] } },
    },
  })
  output.contracts[file] = own.contracts[file]
}

/**
 * The JobMarket's ABI as its callers see it: its own functions plus those its fallback runs in
 * the JobMarketExtension (one address, one ABI). Entries both contracts declare (the shared
 * events, errors and inherited functions) appear once.
 */
function marketAbi(market, extension) {
  // a tuple by its components, so two overloads over different structs stay apart
  const typeOf = (i) =>
    i.type.startsWith('tuple') ? `(${i.components.map(typeOf).join(',')})${i.type.slice(5)}` : i.type
  const key = (e) => `${e.type}:${e.name ?? ''}(${(e.inputs ?? []).map(typeOf).join(',')})`
  const seen = new Set(market.map(key))
  return [...market, ...extension.filter((e) => e.type !== 'constructor' && !seen.has(key(e)))]
}
{
  const market = output.contracts['JobMarket.sol']?.JobMarket
  const extension = output.contracts['JobMarketExtension.sol']?.JobMarketExtension
  if (!market || !extension) throw new Error('compile: no output for the JobMarket or its extension')
  market.abi = marketAbi(market.abi, extension.abi)
}

mkdirSync(artifactsDir, { recursive: true })
mkdirSync(generatedDir, { recursive: true })
let module = `// Generated by scripts/compile.mjs from contracts/*.sol (solc ${solcVersion}, evm ${settings.evmVersion}).\n// Build output: do not edit.\n`
for (const [file, name, ident] of exported) {
  const contract = output.contracts[file]?.[name]
  if (!contract) throw new Error(`compile: no output for ${file}:${name}`)
  const artifact = {
    contractName: name,
    sourceName: file,
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  }
  writeFileSync(join(artifactsDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`)
  module += `\nexport const ${ident}Abi = ${JSON.stringify(contract.abi)} as const\n`
  module += `\nexport const ${ident}Bytecode = '${artifact.bytecode}' as const\n`
  const size = contract.evm.deployedBytecode.object.length / 2
  if (size > 24_576) process.stderr.write(`warning: ${name} runtime size ${size} exceeds the EIP-170 limit\n`)
}
writeFileSync(generatedFile, module)
writeFileSync(cacheFile, key)
process.stdout.write(
  `compiled ${files.length} contract file(s) with solc ${solcVersion} in ${Date.now() - started} ms\n`,
)
