import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { KeyStoreError } from './errors.js'
import type { ScryptParameters } from './options.js'

/** What an encrypted key file stores next to the ciphertext (all binary fields hex). */
export interface EncryptedSecret {
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string }
  ciphertext: string
}

function deriveKey(passphrase: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must exceed 128 * N * r or scrypt refuses; leave headroom.
    const maxmem = 256 * parameters.N * parameters.r
    scrypt(passphrase.normalize('NFKC'), salt, 32, { ...parameters, maxmem }, (error, key) =>
      error === null ? resolve(key) : reject(error),
    )
  })
}

/**
 * Encrypts a secret with a key derived from the passphrase (scrypt) using AES-256-GCM.
 * `associatedData` (the file's public header) is authenticated, so editing the address or
 * peer id shown in the file makes decryption fail instead of lying.
 */
export async function encryptSecret(
  secret: Uint8Array,
  passphrase: string,
  parameters: ScryptParameters,
  associatedData: string,
): Promise<EncryptedSecret> {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const key = await deriveKey(passphrase, salt, parameters)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(associatedData, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()])
  return {
    kdf: { name: 'scrypt', N: parameters.N, r: parameters.r, p: parameters.p, salt: salt.toString('hex') },
    cipher: { name: 'aes-256-gcm', iv: iv.toString('hex'), tag: cipher.getAuthTag().toString('hex') },
    ciphertext: ciphertext.toString('hex'),
  }
}

export async function decryptSecret(
  encrypted: EncryptedSecret,
  passphrase: string,
  associatedData: string,
  file: string,
): Promise<Uint8Array> {
  const { kdf } = encrypted
  if (kdf.name !== 'scrypt' || encrypted.cipher.name !== 'aes-256-gcm') {
    throw new KeyStoreError('KEYS_CORRUPT', `key file ${file} uses an unknown kdf or cipher`)
  }
  // Bound the KDF cost a file can demand, so a tampered file cannot exhaust memory.
  if (
    !Number.isInteger(kdf.N) ||
    kdf.N < 2 ||
    kdf.N > 2 ** 20 ||
    kdf.r < 1 ||
    kdf.r > 16 ||
    kdf.p < 1 ||
    kdf.p > 4
  ) {
    throw new KeyStoreError('KEYS_CORRUPT', `key file ${file} has out-of-range scrypt parameters`)
  }
  const key = await deriveKey(passphrase, Buffer.from(kdf.salt, 'hex'), { N: kdf.N, r: kdf.r, p: kdf.p })
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(encrypted.cipher.iv, 'hex'))
  decipher.setAAD(Buffer.from(associatedData, 'utf8'))
  decipher.setAuthTag(Buffer.from(encrypted.cipher.tag, 'hex'))
  try {
    return new Uint8Array(
      Buffer.concat([decipher.update(Buffer.from(encrypted.ciphertext, 'hex')), decipher.final()]),
    )
  } catch (cause) {
    // GCM cannot tell a wrong passphrase from a tampered file; the passphrase is far likelier.
    throw new KeyStoreError('KEYS_WRONG_PASSPHRASE', `wrong passphrase for key file ${file}`, {
      cause,
      details: 'the passphrase does not decrypt this key (or the file was modified)',
    })
  }
}
