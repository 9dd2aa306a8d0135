import type { GenerateRequest } from '../api/interface.js'
import type { RoleService } from '../api/services.js'

/** What a requester needs to put a job on the market. */
export interface SubmitJobParams {
  /** ONNX model file. */
  modelPath: string
  /** Inputs file (safetensors or .npy) whose first axis is the sample axis. */
  inputsPath: string
  kind: 'inference' | 'training'
  /** Training spec (JSON) when kind is 'training'. */
  trainingSpecPath?: string
  /**
   * Datanet manifest (JSON) for a training spec that names attribution; the spec's
   * attribution.manifest is filled with its content hash when left out.
   */
  datanetManifestPath?: string
  verification: 'replay' | 'zk'
  /** Highest price the requester will pay, in OPEN wei; defaults to the requester config. */
  maxPrice?: bigint
  /** Samples per micro-batch (one Merkle leaf each); defaults to the executor's choice. */
  microBatchSize?: number
  /**
   * Per input: its batch axis, or 'broadcast' for one every micro-batch (or chunk) gets whole;
   * inputs left out are inferred from the model (CLI: --input-axis name=axis|broadcast)
   */
  inputAxes?: Record<string, number | 'broadcast'>
  /**
   * A stateful sequence job (executor/sequence.ts): the model's state outputs and the inputs
   * they feed at the next chunk (CLI: --state output=input)
   */
  state?: { output: string; input: string }[]
  /**
   * A generate job (executor/generate/*): the inputs are input_ids (and attention_mask) of a
   * decoder in the export layout; one leaf per generated position (CLI: --generate N)
   */
  generate?: GenerateParams
}

/** A generate job's decoding: the spec's generation fields (executor/generate/spec.ts). */
export type GenerateParams = GenerateRequest

export interface SubmitJobResult {
  jobId: string
}

/** The requester role as the API and CLI use it. */
export interface RequesterRole extends RoleService {
  readonly role: 'requester'
  submitJob(params: SubmitJobParams, options?: { signal?: AbortSignal }): Promise<SubmitJobResult>
  /** Puts an expired or refunded job on the market again under a new job id. */
  reoffer(jobId: string, options?: { signal?: AbortSignal }): Promise<SubmitJobResult>
}
