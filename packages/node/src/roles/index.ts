export type { RequesterRole, SubmitJobParams, SubmitJobResult } from './interface.js'
