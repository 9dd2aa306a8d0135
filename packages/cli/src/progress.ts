/**
 * A progress bar for long work (uploads, the bidding window, execution). On a terminal it
 * redraws one line; elsewhere it prints a single line when the work ends, so logs stay
 * readable; with `--json` it prints nothing, keeping stdout one JSON object.
 */
export interface ProgressBarOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  label: string
  /** Units of work; 0 or undefined shows a spinner-less counter instead of a bar. */
  total?: number
  /** Silences the bar entirely (`--json`). */
  silent?: boolean
  /** Unit shown after counts, e.g. `samples`, `bytes`. */
  unit?: string
  /** Minimum milliseconds between redraws. */
  redrawIntervalMs?: number
}

export interface ProgressBar {
  /** Sets the amount of work done. */
  update(done: number): void
  increment(amount?: number): void
  /** Ends the bar with a final line. */
  finish(message?: string): void
  /** Ends the bar marking the work as failed. */
  fail(message?: string): void
  readonly done: number
}

function formatCount(value: number, unit: string | undefined): string {
  if (unit === 'bytes') {
    if (value >= 1024 * 1024) return `${(value / (1024 * 1024)).toFixed(1)} MiB`
    if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`
    return `${value} B`
  }
  return unit === undefined ? String(value) : `${value} ${unit}`
}

export function renderProgressLine(
  label: string,
  done: number,
  total: number | undefined,
  width: number,
  unit?: string,
): string {
  if (total === undefined || total <= 0) return `${label} ${formatCount(done, unit)}`
  const ratio = Math.min(1, Math.max(0, done / total))
  const barWidth = Math.max(10, Math.min(40, width - label.length - 30))
  const filled = Math.round(ratio * barWidth)
  const bar = `${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}`
  const percent = `${Math.floor(ratio * 100)}`.padStart(3)
  return `${label} [${bar}] ${percent}% ${formatCount(done, unit)}/${formatCount(total, unit)}`
}

export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const tty = options.stream.isTTY === true && options.silent !== true
  const interval = options.redrawIntervalMs ?? 100
  let done = 0
  let lastDraw = 0
  let ended = false

  function line(): string {
    return renderProgressLine(options.label, done, options.total, options.stream.columns ?? 80, options.unit)
  }

  function draw(force: boolean): void {
    if (!tty || ended) return
    const now = Date.now()
    if (!force && now - lastDraw < interval) return
    lastDraw = now
    // \r returns to the line start; \x1b[K clears what a longer previous line left.
    options.stream.write(`\r${line()}\x1b[K`)
  }

  function end(suffix: string): void {
    if (ended || options.silent === true) {
      ended = true
      return
    }
    const text = `${line()} ${suffix}`.trimEnd()
    options.stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`)
    ended = true
  }

  return {
    get done() {
      return done
    },
    update(value) {
      done = value
      draw(false)
    },
    increment(amount = 1) {
      done += amount
      draw(false)
    },
    finish(message = 'done') {
      if (options.total !== undefined && options.total > 0) done = Math.max(done, options.total)
      end(message)
    },
    fail(message = 'failed') {
      end(message)
    },
  }
}

/** One step of long work on a node (the `progress` events of `GET /events?progress=1`). */
export interface WorkStep {
  stage: string
  unit: string
  done: number
  total?: number
  label?: string
  finished?: boolean
}

export interface ProgressBoard {
  /** Moves (or starts) the bar of the step's piece of work; a finished step ends it. */
  update(step: WorkStep): void
  /** Ends every bar still open (the job ended, or the stream did). */
  close(message?: string): void
}

/**
 * A bar per piece of a job's long work (execution, each artifact's transfer, replays,
 * proving), drawn one at a time: on a terminal the running one redraws its line, elsewhere
 * each prints one line when it ends. Silent with `--json`.
 */
export function createProgressBoard(
  options: Pick<ProgressBarOptions, 'stream' | 'silent'> & { indent?: string },
) {
  const bars = new Map<string, ProgressBar>()
  let current: string | undefined
  const board: ProgressBoard = {
    update(step) {
      const key = `${step.stage}|${step.label ?? ''}`
      let bar = bars.get(key)
      if (bar === undefined) {
        // a terminal has one line to redraw: the bar drawn before ends its line first
        if (current !== undefined && current !== key) bars.get(current)?.finish('…')
        if (current !== undefined && current !== key) bars.delete(current)
        bar = createProgressBar({
          stream: options.stream,
          label: `${options.indent ?? ''}${step.label === undefined ? step.stage : `${step.stage} ${step.label}`}`,
          ...(step.total === undefined ? {} : { total: step.total }),
          unit: step.unit,
          ...(options.silent === undefined ? {} : { silent: options.silent }),
        })
        bars.set(key, bar)
      }
      current = key
      bar.update(step.done)
      if (step.finished === true) {
        bar.finish()
        bars.delete(key)
        current = undefined
      }
    },
    close(message = 'stopped') {
      for (const bar of bars.values()) bar.fail(message)
      bars.clear()
      current = undefined
    },
  }
  return board
}

export interface StageProgressOptions {
  stream: ProgressBarOptions['stream']
  /** What the stages build, the line's first word(s) (e.g. `zk build`). */
  label: string
  /** The stages in the order they run. */
  stages: readonly string[]
  silent?: boolean
}

export interface StageProgress {
  /** The work reached `stage` (or reports from inside it): `message` says what it does now. */
  update(stage: string, message: string): void
  /** Ends the display (on a terminal, leaves its last line standing). */
  finish(): void
}

/**
 * Progress of work that runs in named stages, each reporting messages (a circuit build: compile,
 * powers of tau, setup). On a terminal one line redraws as a bar over the stages with the
 * stage's latest message and the time so far; elsewhere each message is its own numbered line,
 * so a CI log shows where a long setup is.
 */
export function createStageProgress(options: StageProgressOptions): StageProgress {
  const tty = options.stream.isTTY === true
  const started = Date.now()
  let drawn = false
  return {
    update(stage, message) {
      if (options.silent === true) return
      const step = options.stages.indexOf(stage) + 1
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      if (!tty) {
        options.stream.write(`[${step}/${options.stages.length}] ${stage}: ${message} (${seconds} s)\n`)
        return
      }
      const width = options.stream.columns ?? 80
      const suffix = ` ${message} (${seconds} s)`
      // the bar narrows to leave the message room (up to half the line); a longer one is cut
      const room = width - Math.min(suffix.length, Math.floor(width / 2))
      const label = `${options.label} ${stage}`
      const line = `${renderProgressLine(label, step, options.stages.length, room, 'stages')}${suffix}`
      options.stream.write(`\r${line.length > width ? `${line.slice(0, width - 1)}…` : line}\x1b[K`)
      drawn = true
    },
    finish() {
      if (drawn) options.stream.write('\n')
      drawn = false
    },
  }
}
