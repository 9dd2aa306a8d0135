export {
  councilAbi,
  councilBytecode,
  openGovernorAbi,
  openGovernorBytecode,
  timelockControllerAbi,
  timelockControllerBytecode,
} from '../generated/abis.js'
export * from './actions.js'
export * from './deploy.js'
export * from './errors.js'
export * from './options.js'
