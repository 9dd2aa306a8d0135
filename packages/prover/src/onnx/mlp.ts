/**
 * Dense multi-layer perceptrons as ONNX graphs: build one from weights, or read the weights
 * back out of a given model (Gemm, or MatMul followed by Add, with ReLU/Tanh/Gelu/Sigmoid
 * between layers and an optional final Softmax).
 *
 * Weights are always handed out row-major as [inFeatures, outFeatures] (y = x W + b), the
 * MatMul convention; a Gemm with transB=1 (PyTorch's export) is transposed on the way out.
 */
import { type AttrValue, GraphBuilder } from './builder.js'
import { OnnxError } from './errors.js'
import type { OnnxModel, OnnxNode, OnnxTensor } from './model.js'
import { tensorFloat32 } from './tensor.js'

export type MlpActivation = 'relu' | 'tanh' | 'gelu' | 'sigmoid' | 'none'

export interface MlpLayer {
  inFeatures: number
  outFeatures: number
  /** row-major [inFeatures, outFeatures] */
  weight: Float32Array
  /** [outFeatures] */
  bias: Float32Array
  /** applied after this layer ('none' for the output layer of a plain regressor/logit model) */
  activation: MlpActivation
}

export interface Mlp {
  layers: MlpLayer[]
  /** a Softmax over the last axis after the final layer */
  softmaxOutput: boolean
}

export interface MlpGraphNames {
  input: string
  output: string
}

export interface BuildMlpOptions {
  inputName?: string
  outputName?: string
  /** 'gemm' emits Gemm nodes; 'matmul-add' emits MatMul + Add (both are read back by extractMlp) */
  style?: 'gemm' | 'matmul-add'
  opset?: number
}

/** The ONNX inference graph of an MLP; the batch axis is dynamic ('batch'). */
export function buildMlpModel(mlp: Mlp, options: BuildMlpOptions = {}): OnnxModel {
  checkMlp(mlp)
  // ONNX has a Gelu op from opset 20; with it extractMlp reads the model back
  const opset = options.opset ?? (mlp.layers.some((l) => l.activation === 'gelu') ? 20 : undefined)
  const b = new GraphBuilder('mlp')
  const first = mlp.layers[0]!
  const last = mlp.layers[mlp.layers.length - 1]!
  let h = b.input(options.inputName ?? 'input', 'float32', ['batch', first.inFeatures])
  mlp.layers.forEach((layer, i) => {
    const w = b.initializer(
      `layer${i}.weight`,
      'float32',
      [layer.inFeatures, layer.outFeatures],
      layer.weight,
    )
    const bias = b.initializer(`layer${i}.bias`, 'float32', [layer.outFeatures], layer.bias)
    if (options.style === 'matmul-add') h = b.op('Add', [b.op('MatMul', [h, w]), bias])
    else h = b.op('Gemm', [h, w, bias])
    h = applyActivation(b, h, layer.activation, opset)
  })
  if (mlp.softmaxOutput) h = b.op('Softmax', [h], { axis: -1 })
  b.output(h, 'float32', ['batch', last.outFeatures], options.outputName ?? 'output')
  return b.build({ ...(opset === undefined ? {} : { opset }) })
}

export function applyActivation(
  b: GraphBuilder,
  h: string,
  activation: MlpActivation,
  opset?: number,
): string {
  switch (activation) {
    case 'relu':
      return b.op('Relu', [h])
    case 'tanh':
      return b.op('Tanh', [h])
    case 'sigmoid':
      return b.op('Sigmoid', [h])
    case 'gelu': {
      if (opset !== undefined && opset >= 20) return b.op('Gelu', [h])
      // exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)), spelled out so opset 17 runs it
      const erf = b.op('Erf', [b.op('Mul', [h, b.constant([Math.SQRT1_2])])])
      const half = b.op('Mul', [b.op('Add', [erf, b.constant([1])]), b.constant([0.5])])
      return b.op('Mul', [h, half])
    }
    case 'none':
      return h
  }
}

export function checkMlp(mlp: Mlp): void {
  if (mlp.layers.length === 0) throw new OnnxError('ONNX_GRAPH_SHAPE', 'an MLP needs at least one layer')
  mlp.layers.forEach((l, i) => {
    if (l.weight.length !== l.inFeatures * l.outFeatures || l.bias.length !== l.outFeatures) {
      throw new OnnxError('ONNX_GRAPH_SHAPE', `layer ${i}: weight/bias sizes do not match its features`)
    }
    const prev = mlp.layers[i - 1]
    if (prev && prev.outFeatures !== l.inFeatures) {
      throw new OnnxError(
        'ONNX_GRAPH_SHAPE',
        `layer ${i} takes ${l.inFeatures} features, layer ${i - 1} gives ${prev.outFeatures}`,
      )
    }
  })
}

function attr(node: OnnxNode, name: string): AttrValue | undefined {
  const a = node.attributes.find((x) => x.name === name)
  if (!a) return undefined
  if (a.type === 'int') return Number(a.value)
  if (a.type === 'float') return a.value
  return undefined
}

const activationOps: Record<string, MlpActivation> = {
  Relu: 'relu',
  Tanh: 'tanh',
  Gelu: 'gelu',
  Sigmoid: 'sigmoid',
}

/**
 * Reads a dense MLP out of a model: a single float input, a chain of dense layers, one
 * output. Throws ONNX_GRAPH_SHAPE (naming the node) for anything else.
 */
export function extractMlp(model: OnnxModel): Mlp & { names: MlpGraphNames } {
  const g = model.graph
  const inits = new Map(g.initializers.map((t) => [t.name, t]))
  const realInputs = g.inputs.filter((i) => !inits.has(i.name))
  if (realInputs.length !== 1 || g.outputs.length !== 1) {
    throw new OnnxError('ONNX_GRAPH_SHAPE', 'an MLP has exactly one input and one output', {
      details: `inputs [${realInputs.map((i) => i.name).join(', ')}], outputs [${g.outputs.map((o) => o.name).join(', ')}]`,
    })
  }
  const consumers = new Map<string, OnnxNode[]>()
  for (const n of g.nodes) {
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n])
  }
  const next = (value: string): OnnxNode | undefined => {
    const c = consumers.get(value) ?? []
    if (c.length > 1)
      throw new OnnxError('ONNX_GRAPH_SHAPE', `value ${value} feeds ${c.length} nodes; not a chain`)
    return c[0]
  }
  const initOf = (name: string | undefined, node: OnnxNode): OnnxTensor => {
    const t = name === undefined ? undefined : inits.get(name)
    if (!t)
      throw new OnnxError(
        'ONNX_GRAPH_SHAPE',
        `node ${node.name || node.opType}: ${name} is not an initializer`,
      )
    return t
  }

  const layers: MlpLayer[] = []
  let softmaxOutput = false
  const inputName = realInputs[0]!.name
  let value = inputName
  const visited = new Set<OnnxNode>()
  for (let node = next(value); node; node = next(value)) {
    if (visited.has(node)) throw new OnnxError('ONNX_GRAPH_SHAPE', 'the graph has a cycle')
    visited.add(node)
    const label = node.name || node.opType
    if (softmaxOutput && node.opType !== 'Identity') {
      throw new OnnxError('ONNX_GRAPH_SHAPE', `node ${label} (${node.opType}) follows the Softmax`)
    }
    if (node.opType === 'Gemm') {
      if (
        (attr(node, 'transA') ?? 0) !== 0 ||
        (attr(node, 'alpha') ?? 1) !== 1 ||
        (attr(node, 'beta') ?? 1) !== 1
      ) {
        throw new OnnxError(
          'ONNX_GRAPH_SHAPE',
          `Gemm ${label} uses transA/alpha/beta, which a dense layer does not`,
        )
      }
      const w = initOf(node.inputs[1], node)
      const transB = attr(node, 'transB') === 1
      const bias = node.inputs[2] ? tensorFloat32(initOf(node.inputs[2], node)) : undefined
      layers.push(denseLayer(w, transB, bias, label))
      value = node.outputs[0]!
    } else if (node.opType === 'MatMul') {
      const w = initOf(node.inputs[1], node)
      let bias: Float32Array | undefined
      value = node.outputs[0]!
      const add = next(value)
      if (add?.opType === 'Add') {
        const other = add.inputs[0] === value ? add.inputs[1] : add.inputs[0]
        bias = tensorFloat32(initOf(other, add))
        visited.add(add)
        value = add.outputs[0]!
      }
      layers.push(denseLayer(w, false, bias, label))
    } else if (activationOps[node.opType]) {
      const last = layers[layers.length - 1]
      if (last?.activation !== 'none') {
        throw new OnnxError('ONNX_GRAPH_SHAPE', `activation ${label} does not follow a dense layer`)
      }
      last.activation = activationOps[node.opType]!
      value = node.outputs[0]!
    } else if (node.opType === 'Softmax') {
      const axis = attr(node, 'axis')
      if (axis !== undefined && axis !== -1 && axis !== 1) {
        throw new OnnxError('ONNX_GRAPH_SHAPE', `Softmax ${label} is not over the feature axis`)
      }
      softmaxOutput = true
      value = node.outputs[0]!
    } else if (node.opType === 'Identity') {
      value = node.outputs[0]!
    } else {
      throw new OnnxError('ONNX_GRAPH_SHAPE', `node ${label}: ${node.opType} is not part of a dense MLP`)
    }
  }
  if (value !== g.outputs[0]!.name) {
    throw new OnnxError(
      'ONNX_GRAPH_SHAPE',
      `the layer chain ends at ${value}, not at the output ${g.outputs[0]!.name}`,
    )
  }
  if (visited.size !== g.nodes.length) {
    throw new OnnxError('ONNX_GRAPH_SHAPE', `${g.nodes.length - visited.size} nodes are off the layer chain`)
  }
  const mlp = { layers, softmaxOutput }
  checkMlp(mlp)
  return { ...mlp, names: { input: inputName, output: g.outputs[0]!.name } }
}

function denseLayer(w: OnnxTensor, transB: boolean, bias: Float32Array | undefined, label: string): MlpLayer {
  if (w.dims.length !== 2)
    throw new OnnxError('ONNX_GRAPH_SHAPE', `layer ${label}: weight ${w.name} is not 2-D`)
  const values = tensorFloat32(w)
  const [d0, d1] = w.dims as [number, number]
  const inFeatures = transB ? d1 : d0
  const outFeatures = transB ? d0 : d1
  let weight = values
  if (transB) {
    weight = new Float32Array(values.length)
    for (let o = 0; o < outFeatures; o++) {
      for (let i = 0; i < inFeatures; i++) weight[i * outFeatures + o] = values[o * inFeatures + i]!
    }
  }
  const b = bias ?? new Float32Array(outFeatures)
  if (b.length !== outFeatures) {
    throw new OnnxError(
      'ONNX_GRAPH_SHAPE',
      `layer ${label}: bias has ${b.length} values for ${outFeatures} outputs`,
    )
  }
  return { inFeatures, outFeatures, weight, bias: b, activation: 'none' }
}
