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

/** A count in its unit: bytes in KiB/MiB, anything else as `12 micro-batches`. */
export function formatAmount(value: number, unit: string): string {
  if (unit === 'bytes') {
    if (value >= 1024 * 1024) return `${(value / (1024 * 1024)).toFixed(1)} MiB`
    if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`
    return `${value} B`
  }
  return `${value} ${unit}`
}

/** One step of long work as a line: `execution 3/8 micro-batches (37%) · 2.5/s`. */
export function describeProgress(step: {
  stage: string
  unit: string
  done: number
  total?: number
  label?: string
  rate?: number
}): string {
  const what = step.label === undefined ? step.stage : `${step.stage} ${step.label}`
  const count =
    step.total === undefined || step.total <= 0
      ? formatAmount(step.done, step.unit)
      : step.unit === 'bytes'
        ? `${formatAmount(step.done, 'bytes')} of ${formatAmount(step.total, 'bytes')} (${Math.floor((100 * step.done) / step.total)}%)`
        : `${step.done}/${step.total} ${step.unit} (${Math.floor((100 * step.done) / step.total)}%)`
  if (step.rate === undefined || step.rate <= 0) return `${what} ${count}`
  const rate = step.unit === 'bytes' ? `${formatAmount(Math.round(step.rate), 'bytes')}/s` : `${step.rate}/s`
  return `${what} ${count} · ${rate}`
}
