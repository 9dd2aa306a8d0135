/** Small bounded structures for validators: nothing here grows with hostile input. */

/** A set that forgets its oldest entries beyond `capacity`. */
export class BoundedSet<K> {
  private readonly entries = new Set<K>()
  constructor(private readonly capacity: number) {}
  has(key: K): boolean {
    return this.entries.has(key)
  }
  add(key: K): void {
    this.entries.delete(key)
    this.entries.add(key)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.values().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
  }
  values(): IterableIterator<K> {
    return this.entries.values()
  }
  get size(): number {
    return this.entries.size
  }
}

/** A map that forgets its least recently written entries beyond `capacity`. */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>()
  constructor(private readonly capacity: number) {}
  get(key: K): V | undefined {
    return this.entries.get(key)
  }
  set(key: K, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
  }
  delete(key: K): void {
    this.entries.delete(key)
  }
  values(): IterableIterator<V> {
    return this.entries.values()
  }
  get size(): number {
    return this.entries.size
  }
}

/**
 * Token buckets per key (a publishing peer): `ratePerSecond` sustained, `burst` at once.
 * Buckets of keys not seen for a while are dropped with the oldest-first bound.
 */
export class RateLimiter {
  private readonly buckets: BoundedMap<string, { tokens: number; at: number }>
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    capacity = 10_000,
  ) {
    this.buckets = new BoundedMap(capacity)
  }

  /** true when the key may send one more message now (and takes a token) */
  tryTake(key: string, nowMs: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: nowMs }
    const refill = ((nowMs - bucket.at) / 1000) * this.ratePerSecond
    bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, refill))
    bucket.at = nowMs
    const ok = bucket.tokens >= 1
    if (ok) bucket.tokens -= 1
    this.buckets.set(key, bucket)
    return ok
  }
}
