/**
 * A generated head on a frozen backbone: the graph surgery around it (no ONNX Runtime here,
 * so the main thread checks a job with the same code the worker runs).
 *
 * - the backbone is the job's model cut at the spec's `head.features` tensor: only the nodes
 *   that tensor depends on are kept, and a Flatten(axis=1) turns it into features [N, F]
 * - the provider and every verifier compute the features from the backbone (in dataset
 *   order, batchSize rows per run, under the job's replay profile) instead of committing them:
 *   the backbone and the dataset are already the job's artifacts and the profile makes the
 *   run bit-exact, so recomputing costs one inference pass over the dataset and needs no
 *   extra artifact, leaf or download; a provider that trained on other features fails the
 *   replay of the first segment a verifier samples
 * - the head is an MLP generated like an architecture job's (plan.ts, weights from the seed)
 * - the job's result is one inference model: the backbone, the Flatten and the head
 */
import { buildMlpModel, type Mlp, type OnnxGraph, type OnnxModel, type OnnxNode } from '@ocn/prover/onnx'
import { ExecutorError } from '../errors.js'
import type { TrainingHeadSpec } from '../spec.js'

/** The backbone's output: the features tensor flattened to [N, F]. */
export const HEAD_FEATURES = 'ocn.head.features'
const FLATTEN_NODE = 'ocn.head.flatten'
/** Names of the head's values and initializers in the combined model start with this. */
const HEAD_PREFIX = 'ocn.head/'

export interface Backbone {
  model: OnnxModel
  /** the backbone's one input, fed with the dataset's features tensor */
  input: string
}

/** The names a node reads, including those its subgraphs (If, Loop, Scan) read from outside. */
function readsOf(node: OnnxNode): string[] {
  const names = node.inputs.filter((n) => n !== '')
  const visit = (g: OnnxGraph) => {
    for (const n of g.nodes) names.push(...readsOf(n))
  }
  for (const a of node.attributes) if (a.type === 'graph') visit(a.value)
  return names
}

/** The model cut at `spec.features` and flattened: output HEAD_FEATURES, float [N, F]. */
export function backboneModel(model: OnnxModel, spec: Pick<TrainingHeadSpec, 'features'>): Backbone {
  const g = model.graph
  const inits = new Set(g.initializers.map((t) => t.name))
  const inputs = g.inputs.filter((i) => !inits.has(i.name))
  if (inputs.length !== 1) {
    throw new ExecutorError('EXECUTOR_MODEL_INVALID', 'a head needs a backbone with exactly one input', {
      details: `the base model takes [${inputs.map((i) => i.name).join(', ')}]`,
    })
  }
  const producer = new Map<string, OnnxNode>()
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n)
  if (!producer.has(spec.features)) {
    const outputs = g.outputs.map((o) => o.name)
    throw new ExecutorError(
      'EXECUTOR_SPEC_INVALID',
      `spec.model.head.features: the base model computes no tensor named ${spec.features}`,
      { details: `name a node output, e.g. one of the model's outputs [${outputs.join(', ')}]` },
    )
  }
  for (const taken of [HEAD_FEATURES, FLATTEN_NODE]) {
    if (producer.has(taken) || inits.has(taken) || g.nodes.some((n) => n.name === taken))
      throw new ExecutorError('EXECUTOR_MODEL_INVALID', `the base model already uses the name ${taken}`)
  }
  const kept = new Set<OnnxNode>()
  const stack = [spec.features]
  while (stack.length > 0) {
    const node = producer.get(stack.pop()!)
    if (!node || kept.has(node)) continue
    kept.add(node)
    stack.push(...readsOf(node))
  }
  const nodes = g.nodes.filter((n) => kept.has(n))
  const read = new Set(nodes.flatMap(readsOf))
  if (!read.has(inputs[0]!.name)) {
    throw new ExecutorError(
      'EXECUTOR_SPEC_INVALID',
      `spec.model.head.features: ${spec.features} does not depend on the model's input`,
    )
  }
  const values = new Set(nodes.flatMap((n) => n.outputs))
  nodes.push({
    name: FLATTEN_NODE,
    opType: 'Flatten',
    domain: '',
    inputs: [spec.features],
    outputs: [HEAD_FEATURES],
    attributes: [{ name: 'axis', type: 'int', value: 1n }],
  })
  const graph: OnnxGraph = {
    ...g,
    nodes,
    initializers: g.initializers.filter((t) => read.has(t.name)),
    inputs: g.inputs.filter((i) => read.has(i.name)),
    outputs: [{ name: HEAD_FEATURES, elemType: 'float32', shape: [null, null] }],
    valueInfo: g.valueInfo.filter((v) => values.has(v.name)),
  }
  return { model: { ...model, graph }, input: inputs[0]!.name }
}

/** The default-domain opset of a model (what its nodes may use). */
function opsetOf(model: OnnxModel): number {
  return model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 17
}

/**
 * One inference model: the backbone, then the head reading HEAD_FEATURES. The head's value,
 * node and initializer names get HEAD_PREFIX so they cannot clash with the backbone's.
 */
export function composeHeadModel(backbone: Backbone, head: Mlp, outputName = 'output'): OnnxModel {
  const opset = opsetOf(backbone.model)
  const h = buildMlpModel(head, { inputName: HEAD_FEATURES, outputName, opset }).graph
  const rename = (n: string) =>
    n === HEAD_FEATURES || n === outputName || n === '' ? n : `${HEAD_PREFIX}${n}`
  const g = backbone.model.graph
  if (
    g.nodes.some((n) => n.outputs.includes(outputName)) ||
    g.initializers.some((t) => t.name === outputName)
  ) {
    throw new ExecutorError('EXECUTOR_MODEL_INVALID', `the base model already uses the name ${outputName}`)
  }
  const graph: OnnxGraph = {
    ...g,
    nodes: [
      ...g.nodes,
      ...h.nodes.map((n) => ({
        ...n,
        name: `${HEAD_PREFIX}${n.name}`,
        inputs: n.inputs.map(rename),
        outputs: n.outputs.map(rename),
      })),
    ],
    initializers: [...g.initializers, ...h.initializers.map((t) => ({ ...t, name: rename(t.name) }))],
    outputs: h.outputs,
  }
  return { ...backbone.model, graph }
}
