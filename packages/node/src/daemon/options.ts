export interface DaemonOptions {
  /** Per-service time to stop before the daemon moves on and logs it. */
  stopTimeoutMs?: number
}

export const defaultDaemonOptions = {
  stopTimeoutMs: 10_000,
} as const satisfies Required<DaemonOptions>

/** Written to the data dir while the API listens, so `ocn status` finds a port chosen at random. */
export const API_RUNTIME_FILE = 'api.json'
