/** How amounts, times and ids read on the page. */
const DECIMALS = 18n

/** OPEN base units (a decimal string or bigint) as OPEN with up to 4 decimals. */
export function formatOpen(value: string | bigint | undefined): string {
  if (value === undefined) return '—'
  const units = typeof value === 'bigint' ? value : BigInt(value)
  const scale = 10n ** DECIMALS
  const whole = units / scale
  const fraction = ((units % scale) * 10_000n) / scale
  if (units > 0n && whole === 0n && fraction === 0n) return '< 0.0001 OPEN'
  return fraction === 0n
    ? `${whole} OPEN`
    : `${whole}.${fraction.toString().padStart(4, '0').replace(/0+$/, '')} OPEN`
}

/** Parses "1.5" (OPEN) into base units; undefined when it is not a positive amount. */
export function parseOpen(text: string): bigint | undefined {
  const match = /^(\d{1,30})(?:\.(\d{1,18}))?$/.exec(text.trim())
  if (match === null) return undefined
  const units = BigInt(match[1]!) * 10n ** DECIMALS + BigInt((match[2] ?? '').padEnd(18, '0') || '0')
  return units > 0n ? units : undefined
}

export function shortId(id: string | undefined): string {
  if (id === undefined) return '—'
  return id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id
}

export function formatTime(at: number | undefined): string {
  return at === undefined ? '—' : new Date(at).toLocaleTimeString()
}
