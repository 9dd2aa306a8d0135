import { consoleDir } from '@ocn/console'
import {
  createDaemon,
  createNodeComponents,
  loadNodeKeys,
  readNodeKeyInfo,
  stopOnSignals,
  stopOnStdinClose,
} from '@ocn/node'
import { type Command, stringFlag } from '../command.js'
import { loadConfigFor, loggerFor } from '../context.js'
import { DEVNET_BOARD_ENV } from '../devnet/board.js'
import { resolvePassphrase } from '../passphrase.js'

export const startCommand: Command = {
  path: ['start'],
  summary: 'run the node daemon (state store, local API, metrics) until Ctrl-C',
  usage: 'ocn start [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    'passphrase-file': {
      type: 'string',
      value: '<file>',
      description: 'passphrase of encrypted keys (or set OCN_PASSPHRASE; asked on a terminal otherwise)',
    },
  },
  async run(context) {
    const loaded = await loadConfigFor(context)
    const { config } = loaded
    const info = await readNodeKeyInfo(config.dataDir)
    const passphrase = await resolvePassphrase({
      io: context.io,
      passphraseFile: stringFlag(context.flags, 'passphrase-file'),
      prompt: info.encrypted,
      confirm: false,
    })
    const keys = await loadNodeKeys({ dataDir: config.dataDir, passphrase })
    const logger = loggerFor(context, loaded)
    // the real chain, executor, network and the configured roles
    const faults = context.components?.providerFaults
    const components = createNodeComponents(
      config,
      keys,
      faults === undefined ? {} : { providerFaults: faults },
    )
    // a node of `ocn devnet` serves the devnet's board (every node, the workload) at GET /devnet
    const devnetBoard = context.io.env[DEVNET_BOARD_ENV] ?? ''
    const daemon = createDaemon(config, { ...components, logger }, { consoleDir, devnetBoard })
    await daemon.start()
    // Handlers go in before the node announces itself: a script may signal it right after.
    const { stopped, dispose } = stopOnSignals(daemon, {
      logger,
      ...(context.io.signals === undefined ? {} : { signals: context.io.signals }),
      onForce: () => process.exit(130),
    })
    // A supervisor (the devnet) keeps our stdin open; when it dies the pipe closes and we stop,
    // so no node outlives the devnet that started it, even after a kill -9.
    const unwatchStdin = stopOnStdinClose(context.io)
    const ready = {
      status: 'running',
      api: daemon.apiUrl ?? null,
      address: keys.info.address,
      peerId: keys.info.peerId,
      dataDir: config.dataDir,
      pid: process.pid,
    }
    // Announced as soon as the node runs, so scripts can wait for this line.
    context.io.stdout.write(
      context.json
        ? `${JSON.stringify(ready)}\n`
        : `node running: API ${ready.api ?? '(disabled)'}, address ${ready.address}, peer ${ready.peerId}\n`,
    )
    const signal = await stopped
    dispose()
    // A flowing stdin would keep the process alive after the daemon stopped.
    unwatchStdin()
    return { json: {}, text: '', printed: true, note: signal }
  },
}
