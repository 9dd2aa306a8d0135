/**
 * The verifier's check-pass graph: the decoder rewritten so the work that depends on one
 * position only (the last layer's output projection and MLP, the final norm, the LM head) runs
 * for the sampled rows alone instead of every position of the prefill.
 *
 * Why: a check needs logits at its sampled positions only (64 of a few hundred), but a plain
 * prefill computes the whole row-wise tail of the network at every position. The tail is the
 * part after the last op that mixes positions (attention), and the LM head alone is a third of
 * a GPT-2-sized model's compute per position (d 768 × vocab 50 257); on OCN's small fixture
 * the tail is about a fifth.
 *
 * How: from the node that produces the logits, walk back through row-wise nodes (each output
 * row depends on the same row of its inputs: MatMul by a constant weight, elementwise ops with
 * per-feature constants, LayerNormalization and reductions over the last axis, unary
 * activations) as long as every consumer of what they produce is itself in the tail. Where the
 * walk stops (a tensor the rest of the graph also needs, or one made by an op that mixes
 * positions) a Gather along the sequence axis (axis 1 of [batch, sequence, features]) picks the
 * sampled rows, and the tail runs on those. The tail's nodes are replaced, not copied, so the
 * full-width tail is not computed at all.
 *
 * The rewrite assumes the tensors where it gathers have the sequence on axis 1. It does not
 * trust that blindly: the worker compares the rewritten model's logits with the plain
 * prefill's on a probe before it uses it (decode.ts), and keeps the plain prefill otherwise.
 */
import type { OnnxModel, OnnxNode } from '@ocn/prover/onnx'

/** The extra input of the rewritten model: int64 [rows], the prefill rows whose logits to return. */
export const CHECK_ROWS_INPUT = 'ocn_check_rows'
/** The rewritten model's logits output: [batch, rows, vocab]. */
export const CHECK_LOGITS_OUTPUT = 'ocn_check_logits'

const UNARY = new Set([
  'Relu',
  'Gelu',
  'Erf',
  'Tanh',
  'Sigmoid',
  'Sqrt',
  'Neg',
  'Exp',
  'Log',
  'Identity',
  'Cast',
  'Softplus',
  'Reciprocal',
  'Abs',
])
const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min'])

interface GraphIndex {
  producer: Map<string, OnnxNode>
  consumers: Map<string, OnnxNode[]>
  /** tensors that depend on initializers and Constant nodes only, with their dims where known */
  constants: Map<string, number[] | undefined>
}

function indexGraph(model: OnnxModel): GraphIndex {
  const g = model.graph
  const producer = new Map<string, OnnxNode>()
  const consumers = new Map<string, OnnxNode[]>()
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n)
    for (const i of n.inputs) if (i !== '') consumers.set(i, [...(consumers.get(i) ?? []), n])
  }
  const constants = new Map<string, number[] | undefined>(g.initializers.map((t) => [t.name, t.dims]))
  for (const input of g.inputs) constants.delete(input.name) // an initializer a caller may override
  // nodes are topologically sorted in a valid model: one pass finds every constant-derived tensor
  for (const n of g.nodes) {
    if (n.opType === 'Constant') {
      const value = n.attributes.find((a) => a.name === 'value')
      constants.set(n.outputs[0]!, value?.type === 'tensor' ? value.value.dims : undefined)
    } else if (n.inputs.length > 0 && n.inputs.every((i) => i === '' || constants.has(i))) {
      for (const o of n.outputs) constants.set(o, undefined)
    }
  }
  return { producer, consumers, constants }
}

const intAttr = (n: OnnxNode, name: string): bigint | undefined => {
  const a = n.attributes.find((x) => x.name === name)
  return a?.type === 'int' ? a.value : undefined
}

/** Whether a constant broadcasts per feature: every axis but the last has size 1 (or is absent). */
function perFeature(dims: number[] | undefined): boolean {
  if (dims === undefined) return false
  return dims.slice(0, -1).every((d) => d === 1)
}

/** Whether the op's last-axis reduction keeps rows apart (ReduceMean & co. over axis -1 only). */
function reducesLastAxis(n: OnnxNode): boolean {
  if (!n.opType.startsWith('Reduce') || intAttr(n, 'keepdims') === 0n) return false
  const attr = n.attributes.find((a) => a.name === 'axes')
  // opset 18 moved axes to an input, whose value this index does not hold: not judged, so not
  // taken (the tail then stops there, which costs speed, never correctness)
  return attr?.type === 'ints' && attr.value.length === 1 && attr.value[0] === -1n && n.inputs.length === 1
}

/**
 * The inputs of `n` that carry rows, when `n` is row-wise: each output row depends on the same
 * row of these inputs and on constants only. undefined when it is not row-wise.
 */
function rowInputs(n: OnnxNode, ix: GraphIndex): string[] | undefined {
  if (n.domain !== '' && n.domain !== 'ai.onnx') return undefined
  if (n.outputs.length !== 1) {
    // LayerNormalization may name its mean / inverse-std outputs; only the first may be used
    if (n.opType !== 'LayerNormalization' || n.outputs.slice(1).some((o) => o !== '' && ix.consumers.has(o)))
      return undefined
  }
  const data = n.inputs[0]
  if (data === undefined || data === '' || ix.constants.has(data)) return undefined
  if (UNARY.has(n.opType)) return [data]
  if (n.opType === 'MatMul') {
    const w = n.inputs[1]
    return w !== undefined && ix.constants.get(w)?.length === 2 ? [data] : undefined
  }
  if (n.opType === 'LayerNormalization') {
    const axis = intAttr(n, 'axis') ?? -1n
    const params = n.inputs.slice(1).filter((i) => i !== '')
    return axis === -1n && params.every((p) => perFeature(ix.constants.get(p))) ? [data] : undefined
  }
  if (n.opType === 'Softmax') return (intAttr(n, 'axis') ?? -1n) === -1n ? [data] : undefined
  if (reducesLastAxis(n)) return [data]
  if (ELEMENTWISE.has(n.opType)) {
    const rows = n.inputs.filter((i) => !ix.constants.has(i))
    const constsOk = n.inputs.filter((i) => ix.constants.has(i)).every((c) => perFeature(ix.constants.get(c)))
    return constsOk && rows.length > 0 ? rows : undefined
  }
  return undefined
}

/**
 * The tail: row-wise nodes from the logits' producer back, each one's outputs consumed only by
 * tail nodes (so removing the full-width versions loses nothing the rest of the graph needs).
 */
function findTail(logitsNode: OnnxNode, ix: GraphIndex, graphOutputs: Set<string>): Set<OnnxNode> {
  const tail = new Set<OnnxNode>([logitsNode])
  let grew = true
  while (grew) {
    grew = false
    for (const n of [...tail]) {
      for (const t of rowInputs(n, ix) ?? []) {
        const p = ix.producer.get(t)
        if (!p || tail.has(p) || rowInputs(p, ix) === undefined || graphOutputs.has(t)) continue
        const onlyTail = p.outputs.every((o) => (ix.consumers.get(o) ?? []).every((c) => tail.has(c)))
        if (onlyTail) {
          tail.add(p)
          grew = true
        }
      }
    }
  }
  return tail
}

/**
 * The model with its logits computed for the rows named by CHECK_ROWS_INPUT only, output as
 * CHECK_LOGITS_OUTPUT; undefined when the logits are not made by a row-wise chain that holds
 * a weight multiplication (nothing worth saving). Every other input and output is kept; `logits` itself is no longer an output.
 */
export function sampledRowsModel(model: OnnxModel, logits = 'logits'): OnnxModel | undefined {
  const g = model.graph
  const ix = indexGraph(model)
  const logitsNode = ix.producer.get(logits)
  const output = g.outputs.find((o) => o.name === logits)
  // logits read inside the graph too would lose their full-width producer
  if (!logitsNode || !output || ix.consumers.has(logits) || rowInputs(logitsNode, ix) === undefined)
    return undefined
  const tail = findTail(logitsNode, ix, new Set(g.outputs.map((o) => o.name).filter((o) => o !== logits)))
  // a tail without a weight multiplication saves nothing worth a second session
  if (![...tail].some((n) => n.opType === 'MatMul')) return undefined
  const renamed = (t: string) => (t === logits ? CHECK_LOGITS_OUTPUT : `${t}::check_rows`)
  const gathers: OnnxNode[] = []
  const gathered = new Map<string, string>()
  const rowsOf = (t: string): string => {
    const p = ix.producer.get(t)
    if (p && tail.has(p)) return renamed(t)
    let name = gathered.get(t)
    if (!name) {
      name = `${t}::gathered_rows`
      gathered.set(t, name)
      gathers.push({
        name: `ocn_check_gather_${gathered.size}`,
        opType: 'Gather',
        domain: '',
        inputs: [t, CHECK_ROWS_INPUT],
        outputs: [name],
        attributes: [{ name: 'axis', type: 'int', value: 1n }],
      })
    }
    return name
  }
  const nodes: OnnxNode[] = []
  for (const n of g.nodes) {
    if (!tail.has(n)) {
      nodes.push(n)
      continue
    }
    const rows = new Set(rowInputs(n, ix))
    // the gathers a tail node reads come right before it, after their inputs are made
    const inputs = n.inputs.map((i) => (rows.has(i) ? rowsOf(i) : i))
    nodes.push(...gathers.splice(0), {
      ...n,
      inputs,
      outputs: n.outputs.map((o, k) => (k === 0 ? renamed(o) : '')),
    })
  }
  const tailTensors = new Set([...tail].flatMap((n) => n.outputs))
  return {
    ...model,
    graph: {
      ...g,
      nodes,
      inputs: [...g.inputs, { name: CHECK_ROWS_INPUT, elemType: 'int64', shape: ['rows'] }],
      outputs: [
        ...g.outputs.filter((o) => o.name !== logits),
        { name: CHECK_LOGITS_OUTPUT, elemType: output.elemType, shape: undefined },
      ],
      // shapes recorded for the full-width tail no longer hold
      valueInfo: g.valueInfo.filter((v) => !tailTensors.has(v.name)),
    },
  }
}
