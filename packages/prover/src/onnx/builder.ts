/**
 * A small graph builder: named values in, nodes appended in order, an OnnxModel out.
 * Used to build inference MLPs, the training-step graphs of the executor and test models.
 */
import { OnnxError } from './errors.js'
import type {
  OnnxAttribute,
  OnnxDim,
  OnnxDType,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  OnnxValueInfo,
} from './model.js'
import { makeTensor, type OnnxTypedArray } from './tensor.js'

/** Default opset: 17 (ONNX Runtime 1.30 runs up to 23; 17 is what most exporters still emit). */
export const DEFAULT_OPSET = 17
/** IR version 8 matches opset 17. */
export const DEFAULT_IR_VERSION = 8

/** Marks an attribute number as a float (plain numbers are int attributes). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (value: number): FloatAttr => new FloatAttr(value)

export type AttrValue = number | bigint | FloatAttr | string | number[] | FloatAttr[] | OnnxTensor

export interface OpOptions {
  /** number of outputs, or explicit output names */
  outputs?: number | string[]
  name?: string
  domain?: string
}

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = []
  private readonly initializers: OnnxTensor[] = []
  private readonly inputs: OnnxValueInfo[] = []
  private readonly outputs: OnnxValueInfo[] = []
  private readonly names = new Set<string>()
  private counter = 0

  constructor(readonly graphName = 'graph') {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new OnnxError('ONNX_GRAPH_SHAPE', `value name ${name} is used twice`)
    this.names.add(name)
    return name
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    let name: string
    do name = `${prefix}_${this.counter++}`
    while (this.names.has(name))
    return name
  }

  input(name: string, elemType: OnnxDType, shape: OnnxDim[]): string {
    this.inputs.push({ name: this.claim(name), elemType, shape })
    return name
  }

  initializer(name: string, dataType: OnnxDType, dims: number[], values: OnnxTypedArray | number[]): string {
    this.initializers.push(makeTensor(this.claim(name), dataType, dims, values))
    return name
  }

  /** A constant scalar or vector held as an initializer. */
  constant(values: number[] | OnnxTypedArray, dataType: OnnxDType = 'float32', dims?: number[]): string {
    return this.initializer(
      this.fresh('const'),
      dataType,
      dims ?? (values.length === 1 ? [] : [values.length]),
      values,
    )
  }

  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttrValue> = {},
    options: OpOptions = {},
  ): string {
    return this.ops(opType, inputs, attributes, options)[0]!
  }

  ops(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttrValue> = {},
    options: OpOptions = {},
  ): string[] {
    const outs =
      options.outputs === undefined || typeof options.outputs === 'number'
        ? Array.from({ length: options.outputs ?? 1 }, () => this.fresh(opType.toLowerCase()))
        : options.outputs
    for (const o of outs) this.claim(o)
    this.nodes.push({
      name: options.name ?? this.fresh(`${opType}_node`),
      opType,
      domain: options.domain ?? '',
      inputs,
      outputs: outs,
      attributes: Object.entries(attributes).map(([k, v]) => toAttribute(k, v)),
    })
    return outs
  }

  /** Renames a value into a graph output by an Identity node. */
  output(value: string, elemType: OnnxDType, shape: OnnxDim[] | undefined, name?: string): string {
    let out = value
    if (name !== undefined && name !== value) out = this.op('Identity', [value], {}, { outputs: [name] })
    this.outputs.push({ name: out, elemType, shape })
    return out
  }

  graph(): OnnxGraph {
    return {
      name: this.graphName,
      nodes: [...this.nodes],
      initializers: [...this.initializers],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      valueInfo: [],
      docString: '',
    }
  }

  build(options: { opset?: number; producerName?: string; docString?: string } = {}): OnnxModel {
    return {
      irVersion: irVersionFor(options.opset ?? DEFAULT_OPSET),
      opsetImports: [{ domain: '', version: options.opset ?? DEFAULT_OPSET }],
      producerName: options.producerName ?? 'ocn',
      producerVersion: '',
      domain: '',
      modelVersion: 1,
      docString: options.docString ?? '',
      graph: this.graph(),
      metadata: [],
    }
  }
}

/** The IR version that came with an opset (ONNX's release table). */
export function irVersionFor(opset: number): number {
  if (opset <= 17) return DEFAULT_IR_VERSION
  if (opset <= 20) return 9
  return 10
}

function toAttribute(name: string, v: AttrValue): OnnxAttribute {
  if (v instanceof FloatAttr) return { name, type: 'float', value: v.value }
  if (typeof v === 'number') {
    if (!Number.isInteger(v))
      throw new OnnxError('ONNX_GRAPH_SHAPE', `attribute ${name}: wrap floats in float()`)
    return { name, type: 'int', value: BigInt(v) }
  }
  if (typeof v === 'bigint') return { name, type: 'int', value: v }
  if (typeof v === 'string') return { name, type: 'string', value: new TextEncoder().encode(v) }
  if (Array.isArray(v)) {
    if (v.every((x) => x instanceof FloatAttr)) return { name, type: 'floats', value: v.map((x) => x.value) }
    return { name, type: 'ints', value: (v as number[]).map((x) => BigInt(x)) }
  }
  return { name, type: 'tensor', value: v }
}
