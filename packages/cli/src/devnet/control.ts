/**
 * Driving a running devnet's `ocn start` processes from outside (the chaos test and the soak
 * benchmark): their HTTP APIs, their pids (from the runtime file each writes in its data dir),
 * SIGKILL / SIGSTOP / SIGCONT, restarts on the same data dir (same keys, config and LevelDB
 * state), and what a stopped node's store says. A node's API is read through @ocn/client
 * (devnetNodeApi), the one client the CLI, the console and applications use.
 */
import { join } from 'node:path'
import type { Job, JobState, OcnClient } from '@ocn/client'
import {
  createStateStore,
  isTerminalJobState,
  type JobRecord,
  processAlive,
  readApiRuntimeFile,
  STATE_DIR_NAME,
} from '@ocn/node'
import { type Devnet, type DevnetNode, devnetApiUrl } from './devnet.js'
import { DevnetError } from './errors.js'
import { type CheatingFaultPlanOptions, DEVNET_FAULTS_ENV } from './faults.js'
import { devnetNodeApi } from './node-client.js'
import { faultyNodeBinPath, type NodeProcess, spawnNode } from './processes.js'

/** Whether the process `pid` is gone (@ocn/node's signal-0 probe). */
export function processExited(pid: number): boolean {
  return !processAlive(pid)
}

/**
 * Polls `probe` until it returns a value; DEVNET_NODE_TIMEOUT after `timeoutMs`, naming
 * `what` and the probe's last error.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  throw new DevnetError('DEVNET_NODE_TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, {
    details: last === undefined ? 'a slower machine may need a longer wait' : String(last),
  })
}

/**
 * Terminal, or closed for this node: a lost bid (`failed`) or a refunded job (`expired`).
 * Takes a record from the store (JobRecord) or from the API (@ocn/client's Job).
 */
export function isSettledRecord(job: { state: JobState }): boolean {
  return isTerminalJobState(job.state) || job.state === 'failed' || job.state === 'expired'
}

/** The processes of a running devnet: who runs where now, and how to kill and restart them. */
export class DevnetProcesses {
  /** Processes started here (the restarts); the devnet stops its own. */
  private readonly restarted: NodeProcess[] = []
  /** Pids signalled here, killed at the end in case a caller stops half-way. */
  private readonly touched = new Set<number>()
  /** The current API of each node (a restart binds a new port). */
  private readonly apis = new Map<string, string>()

  constructor(private readonly devnet: Devnet) {
    for (const n of devnet.nodes) this.apis.set(n.name, n.api)
  }

  node(name: string): DevnetNode {
    const found = this.devnet.nodes.find((n) => n.name === name)
    if (found === undefined)
      throw new DevnetError('DEVNET_OPTIONS_INVALID', `no devnet node ${name}`, {
        details: `nodes: ${this.devnet.nodes.map((n) => n.name).join(', ')}`,
      })
    return found
  }

  /** A node's current API URL (with its token, if it has one, as the user part). */
  api(name: string): string {
    const api = this.apis.get(name)
    if (api === undefined) throw new DevnetError('DEVNET_NODE_FAILED', `${name} has no API`)
    return api
  }

  /** A client of a node's current API (made anew each call: a restart moves the API). */
  client(name: string): OcnClient {
    return devnetNodeApi(this.api(name)).client
  }

  /** The pid of the daemon running on a node's data dir, from the runtime file it writes there. */
  async pidOf(name: string): Promise<number> {
    const runtime = await readApiRuntimeFile(this.node(name).dataDir)
    if (runtime === undefined)
      throw new DevnetError('DEVNET_NODE_FAILED', `${name} is not running`, {
        details: 'restart it first (restart())',
      })
    this.touched.add(runtime.pid)
    return runtime.pid
  }

  async kill9(name: string): Promise<void> {
    const pid = await this.pidOf(name)
    process.kill(pid, 'SIGKILL')
    await waitUntil(
      `${name} (pid ${pid}) gone`,
      async () => (processExited(pid) ? true : undefined),
      10_000,
      50,
    )
  }

  async signal(name: string, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
    process.kill(await this.pidOf(name), signal)
  }

  /**
   * Starts a node again on its data dir, honest or through the devnet's faulty-node entry with
   * `faults`, and waits until it is back in the network (it bootstraps from the others).
   */
  async restart(name: string, faults?: CheatingFaultPlanOptions): Promise<NodeProcess> {
    const proc = await spawnNode({
      name,
      dataDir: this.node(name).dataDir,
      args: [],
      ...(faults === undefined
        ? {}
        : { entry: faultyNodeBinPath(), env: { [DEVNET_FAULTS_ENV]: JSON.stringify(faults) } }),
      timeoutMs: 60_000,
    })
    this.restarted.push(proc)
    this.touched.add(proc.ready.pid)
    if (proc.ready.api === null)
      throw new DevnetError('DEVNET_NODE_FAILED', `${name} restarted without an API`)
    this.apis.set(name, await devnetApiUrl(proc.ready.api, this.node(name).dataDir))
    const client = this.client(name)
    await waitUntil(`${name} reconnected`, async () => {
      const status = await client.status()
      return (status.network?.peers ?? 0) >= 2 ? true : undefined
    })
    return proc
  }

  /**
   * A node's record of a job over its API (amounts as decimal strings, `detail` by role);
   * undefined while it is down or has none.
   */
  async localJob(name: string, jobId: string): Promise<Job | undefined> {
    try {
      return await this.client(name).job(jobId)
    } catch {
      return undefined
    }
  }

  /** Every job record of a node, over its API; a failure is the CLI's ApiError. */
  async localJobs(name: string): Promise<Job[]> {
    return devnetNodeApi(this.api(name)).call('read', (client) => client.jobs())
  }

  /** What a stopped node's store on disk says of a job (where it was when it died). */
  async storedJob(name: string, jobId: string): Promise<JobRecord | undefined> {
    const store = createStateStore({ path: join(this.node(name).dataDir, STATE_DIR_NAME) })
    await store.open()
    try {
      return await store.getJob(jobId)
    } finally {
      await store.close()
    }
  }

  /** Kills what this object signalled or started; the devnet stops the rest. */
  async stop(): Promise<void> {
    // a frozen process ignores SIGTERM until continued
    for (const pid of this.touched) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await Promise.all(this.restarted.map((p) => p.stop(2_000)))
  }
}
