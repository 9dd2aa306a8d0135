/**
 * Driving a devnet of `ocn start` processes from a test: their HTTP APIs, their pids (from
 * the runtime file each writes in its data dir), SIGKILL / SIGSTOP / SIGCONT, restarts on the
 * same data dir (same keys, config and LevelDB state), and what a stopped node's store says.
 */
import { join } from 'node:path'
import type { CheatingFaultPlanOptions } from '@ocn/cli'
import {
  DEVNET_FAULTS_ENV,
  type Devnet,
  type DevnetNode,
  faultyNodeBinPath,
  type NodeProcess,
  spawnNode,
} from '@ocn/cli'
import { createStateStore, type JobRecord, readApiRuntimeFile, STATE_DIR_NAME } from '@ocn/node'
import { waitFor } from './helpers.js'

export async function apiGet<T>(api: string, path: string): Promise<T> {
  const response = await fetch(new URL(path, api), { signal: AbortSignal.timeout(5_000) })
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

export async function apiPost<T>(api: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(new URL(path, api), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  })
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`)
  return (await response.json()) as T
}

export function exited(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

/** The processes of a devnet under test: who runs where now, and how to kill and restart them. */
export class DevnetProcesses {
  /** Processes started here (the restarts); the devnet stops its own. */
  private readonly restarted: NodeProcess[] = []
  /** Pids signalled here, killed at the end in case a test stops half-way. */
  private readonly touched = new Set<number>()
  /** The current API of each node (a restart binds a new port). */
  private readonly apis = new Map<string, string>()

  constructor(private readonly devnet: Devnet) {
    for (const n of devnet.nodes) this.apis.set(n.name, n.api)
  }

  node(name: string): DevnetNode {
    const found = this.devnet.nodes.find((n) => n.name === name)
    if (found === undefined) throw new Error(`no devnet node ${name}`)
    return found
  }

  api(name: string): string {
    const api = this.apis.get(name)
    if (api === undefined) throw new Error(`${name} has no API`)
    return api
  }

  /** The pid of the daemon running on a node's data dir, from the runtime file it writes there. */
  async pidOf(name: string): Promise<number> {
    const runtime = await readApiRuntimeFile(this.node(name).dataDir)
    if (runtime === undefined) throw new Error(`${name} is not running`)
    this.touched.add(runtime.pid)
    return runtime.pid
  }

  async kill9(name: string): Promise<void> {
    const pid = await this.pidOf(name)
    process.kill(pid, 'SIGKILL')
    await waitFor(`${name} (pid ${pid}) gone`, async () => (exited(pid) ? true : undefined), 10_000, 50)
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
    if (proc.ready.api === null) throw new Error(`${name} restarted without an API`)
    const api = proc.ready.api
    this.apis.set(name, api)
    await waitFor(`${name} reconnected`, async () => {
      const status = await apiGet<{ network?: { peers: number } }>(api, '/status')
      return (status.network?.peers ?? 0) >= 2 ? true : undefined
    })
    return proc
  }

  /** A node's record of a job over its API; undefined while it is down or has none. */
  async localJob(name: string, jobId: string): Promise<JobRecord | undefined> {
    try {
      return await apiGet<JobRecord>(this.api(name), `/jobs/${jobId}`)
    } catch {
      return undefined
    }
  }

  /** Every job record of a node, over its API. */
  async localJobs(name: string): Promise<JobRecord[]> {
    return (await apiGet<{ jobs: JobRecord[] }>(this.api(name), '/jobs')).jobs
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

  /** Kills what this file signalled or started; the devnet stops the rest. */
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
