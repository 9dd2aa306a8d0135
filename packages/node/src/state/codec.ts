/**
 * JSON that keeps bigints (prices, stakes, block numbers) exact: a bigint is written as
 * `{"$bigint":"<decimal>"}` and read back as a bigint. Plain objects with a `$bigint` key
 * and nothing else cannot otherwise occur in our records.
 */
const BIGINT_TAG = '$bigint'

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? { [BIGINT_TAG]: item.toString() } : item,
  )
}

export function decodeJson<T = unknown>(text: string): T {
  return JSON.parse(text, (_key, item: unknown) => {
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      const keys = Object.keys(item)
      const tagged = (item as Record<string, unknown>)[BIGINT_TAG]
      if (keys.length === 1 && typeof tagged === 'string' && /^-?\d+$/.test(tagged)) return BigInt(tagged)
    }
    return item
  }) as T
}

/** For API responses: bigints as decimal strings, which every JSON client can read. */
export function toPublicJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item))
}
