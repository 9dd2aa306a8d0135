/**
 * Group sending: requests for transactions of one kind that arrive while such a transaction
 * is on its way wait for it and then go out together, as one batch call. The first request is
 * sent at once, so nothing waits for a batch to fill and no transaction is later than it
 * would have been alone; a busy node pays a transaction's base cost and the batch's fixed part
 * once for every request that queued behind it.
 *
 * The batch calls this serves are all or nothing (`commitBatch`, `awardBatch`): a batch
 * refused before it is sent (one bad request in it) is split, and each request is sent alone,
 * so each gets its own answer and one bad request does not hold the others back. A batch that
 * was sent and then failed is answered with that failure for each of its requests: what it did
 * is on the chain, and each caller's retry reads the chain first.
 */

export interface GroupSenderOptions<R, T> {
  /** the most requests one transaction carries (1: a transaction per request) */
  max: number
  /**
   * Sends one transaction for every request of `group` (a batch call for more than one) and
   * calls `sent()` once it has left: a failure before that splits the batch.
   */
  send(group: readonly R[], sent: () => void): Promise<T>
  /** told of a batch refused before it was sent, about to be split */
  onSplit?(group: readonly R[], err: unknown): void
}

/** The batch size a `max` option allows: one a transaction unless it is a positive whole number
 * (a caller's missing option must not turn into an empty batch, sent forever). */
export function batchSize(max: number): number {
  return Number.isInteger(max) && max > 0 ? max : 1
}

interface Waiting<R, T> {
  request: R
  resolve(result: T): void
  reject(err: unknown): void
}

export class GroupSender<R, T> {
  private readonly waiting: Waiting<R, T>[] = []
  private sending = false

  constructor(private readonly options: GroupSenderOptions<R, T>) {}

  /** Sends `request`, alone or with the requests waiting beside it; the transaction's result. */
  submit(request: R): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ request, resolve, reject })
      if (!this.sending) void this.drain()
    })
  }

  private async drain(): Promise<void> {
    this.sending = true
    const max = batchSize(this.options.max)
    try {
      while (this.waiting.length > 0) await this.sendGroup(this.waiting.splice(0, max))
    } finally {
      this.sending = false
    }
  }

  private async sendGroup(group: Waiting<R, T>[]): Promise<void> {
    const requests = group.map((w) => w.request)
    if (group.length > 1) {
      let sent = false
      try {
        const result = await this.options.send(requests, () => {
          sent = true
        })
        for (const w of group) w.resolve(result)
        return
      } catch (err) {
        if (sent) {
          for (const w of group) w.reject(err)
          return
        }
        this.options.onSplit?.(requests, err)
      }
    }
    for (const w of group) await this.options.send([w.request], () => {}).then(w.resolve, w.reject)
  }
}
