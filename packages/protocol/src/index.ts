export * from './eip712.js'
