export * from './onnx/index.js'
export * from './replay/index.js'
export * from './zk/index.js'
