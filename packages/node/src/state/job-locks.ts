/**
 * Serializes read-modify-write cycles per job id: two concurrent attempts to move one job
 * (say, to settle it) run one after the other, so the second sees the first's result.
 */
export class JobLocks {
  /** Tail of the pending work per job id. */
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve()
    const run = previous.then(work, work)
    const tail = run.catch(() => undefined)
    this.tails.set(id, tail)
    try {
      return await run
    } finally {
      if (this.tails.get(id) === tail) this.tails.delete(id)
    }
  }

  /** Resolves once the work queued so far has finished, however it ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.tails.values()])
  }
}
