import * as ort from 'onnxruntime-node'
import type { ReplayProfile } from './spec.js'

/**
 * Session options that pin everything the replay profile covers: thread counts, graph
 * optimisation level, sequential execution, the execution provider. Memory-pattern and
 * arena options do not change results and stay at ONNX Runtime's defaults.
 */
export function sessionOptionsFor(profile: ReplayProfile): ort.InferenceSession.SessionOptions {
  const providers: ort.InferenceSession.SessionOptions['executionProviders'] =
    profile.executionProvider === 'cuda'
      ? [{ name: 'cuda', deviceId: 0 }]
      : profile.executionProvider === 'webgpu'
        ? ['webgpu']
        : ['cpu']
  return {
    executionProviders: providers,
    intraOpNumThreads: profile.intraOpThreads,
    interOpNumThreads: profile.interOpThreads,
    executionMode: 'sequential',
    graphOptimizationLevel: profile.graphOptimizationLevel,
    logSeverityLevel: 3,
  }
}

/**
 * An ONNX Runtime session for `model` under the profile's options. When ONNX Runtime
 * refuses the model, throws what `refused` makes of its message and the cause.
 * (Loads onnxruntime-node: import this module only where sessions run.)
 */
export async function createSession(
  model: Uint8Array,
  profile: ReplayProfile,
  refused: (details: string, cause: unknown) => Error,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model, sessionOptionsFor(profile))
  } catch (cause) {
    throw refused(cause instanceof Error ? cause.message : String(cause), cause)
  }
}
