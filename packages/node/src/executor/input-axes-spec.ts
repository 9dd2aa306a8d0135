/**
 * The job spec's inputAxes field (input-axes.ts uses it): kept apart so spec.ts can parse it
 * without importing the checks, which import the worker protocol, which imports spec.ts.
 */
import { ExecutorError } from './errors.js'

/** An input's batch axis, or 'broadcast' for one every micro-batch gets whole. */
export type InputAxis = number | 'broadcast'
export type InputAxes = Record<string, InputAxis>

/** Validates a spec's inputAxes field (the parser's part; names are checked against the model later). */
export function parseInputAxes(v: unknown, path = 'spec.inputAxes'): InputAxes {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ExecutorError('EXECUTOR_SPEC_INVALID', `job spec: ${path} must be an object`)
  const out: InputAxes = {}
  for (const [name, axis] of Object.entries(v)) {
    if (axis !== 'broadcast' && !(Number.isInteger(axis) && (axis as number) >= 0 && (axis as number) < 64)) {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        `job spec: ${path}.${name} must be an axis number (0..63) or "broadcast"`,
      )
    }
    out[name] = axis as InputAxis
  }
  return out
}
