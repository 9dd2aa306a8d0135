/**
 * What this host can run, for capability ads: execution providers, cores, memory and the
 * GPUs nvidia-smi reports. A provider counts as installed only when its library is present.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, freemem, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { ExecutorError } from './errors.js'
import type { ExecutionProviderName } from './spec.js'

export interface GpuInfo {
  name: string
  memoryBytes: number
}

export interface ExecutorCapabilities {
  ortVersion: string
  /** providers this host can use now */
  executionProviders: ExecutionProviderName[]
  /** everything onnxruntime-node knows of, with whether its library ships in the package */
  backends: { name: string; bundled: boolean; installed: boolean }[]
  cores: number
  cpuModel: string
  memoryBytes: number
  freeMemoryBytes: number
  gpus: GpuInfo[]
}

export const CUDA_INSTALL_HINT =
  'install the CUDA 12 provider with `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  '(or ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node) on a host with the CUDA 12 and cuDNN 9 ' +
  'libraries; see docs/execution.md'

/** The folder holding onnxruntime-node's native binding and provider libraries. */
function ortBinaryDir(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json')
  return join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch)
}

function providerInstalled(name: string, bundled: boolean): boolean {
  if (bundled) return true
  const lib =
    process.platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`
  return existsSync(join(ortBinaryDir(), lib))
}

export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common
}

export function installedProviders(): ExecutionProviderName[] {
  const out: ExecutionProviderName[] = []
  for (const b of ort.listSupportedBackends()) {
    if (
      (b.name === 'cpu' || b.name === 'cuda' || b.name === 'webgpu') &&
      providerInstalled(b.name, b.bundled)
    ) {
      out.push(b.name)
    }
  }
  return out
}

/** Throws EXECUTOR_DEVICE_UNAVAILABLE (with how to install it) when a provider is missing. */
export function assertProviderAvailable(provider: ExecutionProviderName): void {
  if (installedProviders().includes(provider)) return
  throw new ExecutorError(
    'EXECUTOR_DEVICE_UNAVAILABLE',
    `the job requires the ${provider} execution provider, which this host lacks`,
    {
      details:
        provider === 'cuda'
          ? CUDA_INSTALL_HINT
          : `onnxruntime-node ${ortVersion()} on ${process.platform}-${process.arch} has no ${provider} provider`,
    },
  )
}

export async function queryGpus(timeoutMs = 5000): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'],
      { timeout: timeoutMs },
      (err, stdout) => {
        if (err) return resolve([])
        resolve(
          stdout
            .trim()
            .split('\n')
            .filter((l) => l.includes(','))
            .map((l) => {
              const [name, mib] = l.split(',').map((s) => s.trim())
              return { name: name ?? 'unknown', memoryBytes: Number(mib) * 1024 * 1024 }
            }),
        )
      },
    )
  })
}

export async function executorCapabilities(): Promise<ExecutorCapabilities> {
  return {
    ortVersion: ortVersion(),
    executionProviders: installedProviders(),
    backends: ort
      .listSupportedBackends()
      .map((b) => ({ ...b, installed: providerInstalled(b.name, b.bundled) })),
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    gpus: await queryGpus(),
  }
}
