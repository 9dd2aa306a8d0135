export interface AttributionOptions {
  /** wall-clock limit of one attribution computation; its process is killed past it */
  timeoutMs: number
  /** V8 old-space limit of the attribution process */
  memoryMb: number
}

export const defaultAttributionOptions: AttributionOptions = {
  timeoutMs: 10 * 60_000,
  memoryMb: 2048,
}
