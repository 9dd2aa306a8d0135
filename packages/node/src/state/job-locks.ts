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

  /**
   * Runs `work` holding the locks of every id (one transaction acting on several jobs). Safe
   * beside `run`: no other holder of a lock waits for a second one.
   */
  runAll<T>(ids: readonly string[], work: () => Promise<T>): Promise<T> {
    const [first, ...rest] = ids
    return first === undefined ? work() : this.run(first, () => this.runAll(rest, work))
  }

  /** Resolves once the work queued so far has finished, however it ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.tails.values()])
  }
}
