/** One job of the devnet's workload, as the devnet offers it through the requester's API. */
import type { GenerateRequest, SubmitJobRequest } from '@ocn/node'

export interface WorkloadJob {
  name: string
  kind: 'inference' | 'training'
  /** 'replay' unless a phase adds a zk job. */
  verification?: 'replay' | 'zk'
  modelPath: string
  inputsPath: string
  trainingSpecPath?: string
  /** the datanet manifest of a training spec that names attribution */
  datanetManifestPath?: string
  microBatchSize?: number
  /** a generate job (API: generate): its inputs are input_ids */
  generate?: GenerateRequest
  /** a stateful sequence job (API: state) */
  state?: SubmitJobRequest['state']
  inputAxes?: SubmitJobRequest['inputAxes']
  /**
   * Goes out right after the first job was committed, while the cheater (the cheapest
   * stranger) has not been convicted yet: it wins this one too (devnet.ts, submitWorkload).
   */
  opening?: boolean
}
