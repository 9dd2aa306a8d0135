// Where the built console lies, for the node to serve it (`ocn start` passes it on).
import { fileURLToPath } from 'node:url'

export const consoleDir = fileURLToPath(new URL('./dist/', import.meta.url))
