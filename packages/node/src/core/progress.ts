/**
 * Progress of long work (execution, verification replays, artifact transfers, circuit builds
 * and proofs) as one stream of updates the API serves on `GET /events` and the console and
 * CLI draw as bars. A loop may report every step: the hub passes on at most one update per
 * piece of work each `intervalMs`, always the first and the last, and holds the newest one in
 * between (sent when the interval ends), so a fast loop never floods a slow client and the
 * latest count is never lost.
 */

import type { ProgressStage, ProgressUpdate } from '@ocn/protocol/api'

export type { ProgressStage, ProgressUpdate }

/** What a worker calls with each step; the hub stamps `at` and `rate`. */
export type ProgressReport = (update: Omit<ProgressUpdate, 'at' | 'rate'>) => void

export interface ProgressHub {
  report: ProgressReport
  /** Calls `listener` with each update passed on; returns the unsubscribe. */
  subscribe(listener: (update: ProgressUpdate) => void): () => void
  /** Drops held updates and their timers (the daemon stops). */
  close(): void
}

export interface ProgressHubOptions {
  /** at most one update per piece of work this often (default 250 ms) */
  intervalMs?: number
  /** pieces of work tracked at once; the oldest is forgotten past it (default 1024) */
  maxTracked?: number
  now?: () => number
}

interface Tracked {
  started: number
  sentAt: number
  held?: ProgressUpdate
  timer?: ReturnType<typeof setTimeout> | undefined
}

function keyOf(update: Omit<ProgressUpdate, 'at' | 'rate'>): string {
  return `${update.jobId ?? ''}|${update.stage}|${update.label ?? ''}`
}

export function createProgressHub(options: ProgressHubOptions = {}): ProgressHub {
  const intervalMs = options.intervalMs ?? 250
  const maxTracked = options.maxTracked ?? 1024
  const now = options.now ?? Date.now
  const listeners = new Set<(update: ProgressUpdate) => void>()
  const tracked = new Map<string, Tracked>()

  const emit = (update: ProgressUpdate) => {
    for (const listener of listeners) {
      // a listener's failure (a closed stream) must not stop the work that reports
      try {
        listener(update)
      } catch {}
    }
  }
  const forget = (key: string) => {
    const entry = tracked.get(key)
    if (entry?.timer !== undefined) clearTimeout(entry.timer)
    tracked.delete(key)
  }
  const flush = (key: string) => {
    const entry = tracked.get(key)
    if (entry?.held === undefined) return
    entry.timer = undefined
    entry.sentAt = now()
    const held = entry.held
    delete entry.held
    emit(held)
  }

  return {
    report(step) {
      const key = keyOf(step)
      const at = now()
      let entry = tracked.get(key)
      if (entry === undefined) {
        if (tracked.size >= maxTracked) forget(tracked.keys().next().value!)
        entry = { started: at, sentAt: Number.NEGATIVE_INFINITY }
        tracked.set(key, entry)
      }
      const seconds = (at - entry.started) / 1000
      const update: ProgressUpdate = {
        ...step,
        at,
        ...(seconds > 0 ? { rate: Math.round((step.done / seconds) * 100) / 100 } : {}),
      }
      if (step.finished === true) {
        forget(key)
        emit(update)
        return
      }
      if (at - entry.sentAt >= intervalMs) {
        if (entry.timer !== undefined) clearTimeout(entry.timer)
        entry.timer = undefined
        delete entry.held
        entry.sentAt = at
        emit(update)
        return
      }
      entry.held = update
      if (entry.timer === undefined) {
        entry.timer = setTimeout(() => flush(key), Math.max(0, entry.sentAt + intervalMs - at))
        entry.timer.unref?.()
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      for (const key of [...tracked.keys()]) forget(key)
      listeners.clear()
    },
  }
}

/** Reports nothing: for work run where no one watches (tests, one-off CLI calls). */
export const ignoreProgress: ProgressReport = () => {}
