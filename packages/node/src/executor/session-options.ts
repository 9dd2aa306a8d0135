import type { InferenceSession } from 'onnxruntime-node'
import type { ReplayProfile } from './spec.js'

/**
 * Session options that pin everything the replay profile covers: thread counts, graph
 * optimisation level, sequential execution, the execution provider. Memory-pattern and
 * arena options do not change results and stay at ONNX Runtime's defaults.
 */
export function sessionOptionsFor(profile: ReplayProfile): InferenceSession.SessionOptions {
  const providers: InferenceSession.SessionOptions['executionProviders'] =
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
