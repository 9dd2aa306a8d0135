#!/usr/bin/env node
/**
 * The devnet's faulty node: `ocn start` with a provider fault plan composed in, so the devnet
 * has a cheater for its verifiers to catch. Not an `ocn` command nor a package bin: only the
 * devnet starts it (devnet/processes.ts), with the plan as JSON in OCN_DEVNET_FAULTS, which
 * nothing else reads.
 */
// libp2p (loaded by the daemon) needs Promise.withResolvers, which Node 20 lacks.
import '@ocn/protocol/polyfill'
import {
  createCheatingFaultPlan,
  DEVNET_FAULTS_ENV,
  parseCheatingFaultPlanOptions,
} from '../devnet/faults.js'
import { runCli } from '../run.js'

const providerFaults = createCheatingFaultPlan(parseCheatingFaultPlanOptions(process.env[DEVNET_FAULTS_ENV]))
process.exitCode = await runCli(process.argv.slice(2), undefined, { providerFaults })
