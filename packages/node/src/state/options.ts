export interface StateStoreOptions {
  /** Directory of the LevelDB database. */
  path: string
  /**
   * fsync every write. On by default: a transition that returned must survive a power cut,
   * or a restarted node could act on a job twice.
   */
  sync?: boolean
  /** Cap on records returned by one list call. */
  maxListSize?: number
}

export const defaultStateStoreOptions = {
  sync: true,
  maxListSize: 10_000,
} as const

export const STATE_DIR_NAME = 'state'
