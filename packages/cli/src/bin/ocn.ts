#!/usr/bin/env node
// libp2p (loaded by the daemon) needs Promise.withResolvers, which Node 20 lacks.
import '@ocn/protocol/polyfill'
import { runCli } from '../run.js'

process.exitCode = await runCli(process.argv.slice(2))
