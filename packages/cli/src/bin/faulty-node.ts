#!/usr/bin/env node
/**
 * The devnet's faulty node: `ocn start` with a provider fault plan composed in, so the devnet
 * has a cheater for its verifiers to catch. Not an `ocn` command nor a package bin: only the
 * devnet starts it (devnet/processes.ts), with the plan as JSON in OCN_DEVNET_FAULTS, which
 * nothing else reads.
 */
// libp2p (loaded by the daemon) needs Promise.withResolvers, which Node 20 lacks.
import '@ocn/protocol/polyfill'
import { DevnetError } from '../devnet/errors.js'
import {
  createCheatingFaultPlan,
  DEVNET_FAULTS_ENV,
  parseCheatingFaultPlanOptions,
} from '../devnet/faults.js'
import { EXIT_USER_ERROR } from '../errors.js'
import { runCli } from '../run.js'

try {
  const plan = parseCheatingFaultPlanOptions(process.env[DEVNET_FAULTS_ENV])
  process.exitCode = await runCli(process.argv.slice(2), undefined, {
    providerFaults: createCheatingFaultPlan(plan),
  })
} catch (error) {
  // only a plan that does not parse lands here (runCli reports its own errors); one line, as
  // the devnet shows a node's stderr when it fails to start
  if (!(error instanceof DevnetError)) throw error
  process.stderr.write(`ocn faulty-node: ${error.shortMessage} (${error.code}): ${error.details ?? ''}\n`)
  process.exitCode = EXIT_USER_ERROR
}
