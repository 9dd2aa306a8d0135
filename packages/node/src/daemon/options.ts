export interface DaemonOptions {
  /** Per-service time to stop before the daemon moves on and logs it. */
  stopTimeoutMs?: number
  /** The built web console (@ocn/console's dist folder) the API serves at `/`. */
  consoleDir?: string
  /** Under `ocn devnet`: the devnet's board file the API serves at `GET /devnet`. */
  devnetBoard?: string
}

export const defaultDaemonOptions = {
  stopTimeoutMs: 10_000,
  consoleDir: '',
  devnetBoard: '',
} as const satisfies Required<DaemonOptions>

/** Written to the data dir while the API listens, so `ocn status` finds a port chosen at random. */
export const API_RUNTIME_FILE = 'api.json'
