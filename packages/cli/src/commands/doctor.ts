/** `ocn doctor`: checks a node's set-up end to end and says what to fix (checks in doctor-checks.ts). */
import { readApiRuntimeFile } from '@ocn/node'
import type { Command } from '../command.js'
import { loadConfigFor } from '../context.js'
import { EXIT_FAILURE } from '../errors.js'
import { doctorText, realDoctorProbes, runDoctor } from './doctor-run.js'

export const doctorCommand: Command = {
  path: ['doctor'],
  summary:
    "check the node's set-up (Node.js, keys, chain, funds, ports, bootstrap peers, execution, disk) and say what to fix",
  usage: 'ocn doctor [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {},
  async run(context) {
    const { config } = await loadConfigFor(context)
    const running = (await readApiRuntimeFile(config.dataDir)) !== undefined
    const checks = await runDoctor({ config, probes: realDoctorProbes, running })
    const ok = checks.every((check) => check.status !== 'fail')
    return {
      json: { ok, checks },
      text: doctorText(checks),
      ...(ok ? {} : { exitCode: EXIT_FAILURE }),
    }
  },
}
