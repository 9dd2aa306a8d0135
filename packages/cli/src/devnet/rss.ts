/**
 * Memory growth of long-running node processes: resident set size samples per process, and
 * their growth rate as a least-squares slope. A node killed and restarted starts again from a
 * small heap, so one line through all of a node's samples would read each restart as a drop;
 * the slope is fitted within each process's lifetime (one intercept per pid, one shared
 * slope), which measures growth and ignores the restarts.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'

export interface RssSample {
  pid: number
  /** ms since the epoch */
  atMs: number
  rssBytes: number
}

const MiB = 2 ** 20
const HOUR_MS = 3_600_000

/** The resident set size of `pid` in bytes; undefined when it is gone. Linux /proc, else `ps`. */
export async function readRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) * 1024
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform === 'linux') return undefined
  }
  try {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'rss=', '-p', String(pid)], { timeout: 5_000 })
    const kb = Number(stdout.trim())
    return Number.isFinite(kb) && kb > 0 ? kb * 1024 : undefined
  } catch {
    return undefined
  }
}

/**
 * MiB per hour, the shared slope of RSS over time within each process's lifetime, leaving
 * out each process's first `warmupMs` (module loading, JIT, caches filling); null when no
 * process has two samples after its warm-up.
 */
export function rssGrowthMbPerHour(samples: readonly RssSample[], warmupMs = 0): number | null {
  const byPid = new Map<number, RssSample[]>()
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s])
  let covariance = 0
  let variance = 0
  for (const lifetime of byPid.values()) {
    const start = Math.min(...lifetime.map((s) => s.atMs))
    const kept = lifetime.filter((s) => s.atMs - start >= warmupMs)
    if (kept.length < 2) continue
    const meanT = kept.reduce((sum, s) => sum + s.atMs, 0) / kept.length
    const meanR = kept.reduce((sum, s) => sum + s.rssBytes, 0) / kept.length
    for (const s of kept) {
      covariance += (s.atMs - meanT) * (s.rssBytes - meanR)
      variance += (s.atMs - meanT) ** 2
    }
  }
  if (variance === 0) return null
  return Math.round(((covariance / variance) * HOUR_MS * 10) / MiB) / 10
}
