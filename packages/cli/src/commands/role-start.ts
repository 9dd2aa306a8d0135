import type { Command } from '../command.js'
import { startCommand } from './start.js'

/** `ocn <role> start`: `ocn start` with the role added to whatever --role / config says. */
function roleStart(role: 'provider' | 'verifier' | 'requester'): Command {
  return {
    ...startCommand,
    path: [role, 'start'],
    summary: `run the daemon as a ${role} (same as \`ocn start --role ${role}\`)`,
    usage: `ocn ${role} start [--passphrase-file <file>] [config flags]`,
    run(context) {
      const given = context.flags.role
      const roles = (Array.isArray(given) ? given : given === undefined ? [] : [given]).filter(
        (r): r is string => typeof r === 'string',
      )
      const flags = { ...context.flags, role: [...new Set([...roles, role])] }
      return startCommand.run({ ...context, flags })
    },
  }
}

export const providerStartCommand = roleStart('provider')
export const verifierStartCommand = roleStart('verifier')
export const requesterStartCommand = roleStart('requester')
