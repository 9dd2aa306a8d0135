import { Counter, Histogram, type Registry } from 'prom-client'

export interface ExecutorMetrics {
  jobs: Counter<'kind' | 'outcome'>
  microBatchSeconds: Histogram<never>
  trainingSteps: Counter<never>
  workerRestarts: Counter<never>
}

/** Registers the executor's metrics on the daemon's registry (reusing ones already there). */
export function createExecutorMetrics(registry: Registry): ExecutorMetrics {
  const get = <T>(name: string, make: () => T): T =>
    (registry.getSingleMetric(name) as T | undefined) ?? make()
  return {
    jobs: get(
      'ocn_executor_jobs_total',
      () =>
        new Counter({
          name: 'ocn_executor_jobs_total',
          help: 'Executor jobs by kind and outcome (ok or an error code)',
          labelNames: ['kind', 'outcome'] as const,
          registers: [registry],
        }),
    ),
    microBatchSeconds: get(
      'ocn_executor_micro_batch_seconds',
      () =>
        new Histogram({
          name: 'ocn_executor_micro_batch_seconds',
          help: 'Wall-clock time of one inference micro-batch in a worker, including transfer',
          buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60],
          registers: [registry],
        }),
    ),
    trainingSteps: get(
      'ocn_executor_training_steps_total',
      () =>
        new Counter({
          name: 'ocn_executor_training_steps_total',
          help: 'Optimizer steps run',
          registers: [registry],
        }),
    ),
    workerRestarts: get(
      'ocn_executor_worker_restarts_total',
      () =>
        new Counter({
          name: 'ocn_executor_worker_restarts_total',
          help: 'Workers replaced after a crash, timeout or abort',
          registers: [registry],
        }),
    ),
  }
}
