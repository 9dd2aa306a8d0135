/** scrypt cost parameters; N = 2^15 takes ~100 ms and 32 MiB, run on libuv's pool, not the event loop. */
export interface ScryptParameters {
  N: number
  r: number
  p: number
}

export interface KeyStoreOptions {
  /** Used when a passphrase is given; tests lower N to stay fast. */
  scrypt?: ScryptParameters
}

export const defaultScryptParameters: ScryptParameters = { N: 2 ** 15, r: 8, p: 1 }

export const KEYS_DIR_NAME = 'keys'
export const EVM_KEY_FILE = 'evm.key'
export const LIBP2P_KEY_FILE = 'libp2p.key'
