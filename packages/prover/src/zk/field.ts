/**
 * Arithmetic in the BN254 (alt_bn128) scalar field, the field Groth16 over BN254 and circom work in.
 * Signed integers of the quantized model live in the field as `v mod p` (negative values wrap to the top).
 */

export const BN254_SCALAR_FIELD =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n

export function mod(value: bigint, p: bigint = BN254_SCALAR_FIELD): bigint {
  const r = value % p
  return r < 0n ? r + p : r
}

export function fieldAdd(a: bigint, b: bigint): bigint {
  return mod(a + b)
}

export function fieldMul(a: bigint, b: bigint): bigint {
  return mod(a * b)
}

export function fieldPow(base: bigint, exponent: bigint): bigint {
  let result = 1n
  let b = mod(base)
  let e = exponent
  while (e > 0n) {
    if (e & 1n) result = (result * b) % BN254_SCALAR_FIELD
    b = (b * b) % BN254_SCALAR_FIELD
    e >>= 1n
  }
  return result
}

export function fieldInverse(value: bigint): bigint {
  const v = mod(value)
  if (v === 0n) throw new RangeError('zero has no inverse in the field')
  // Fermat: v^(p-2) = v^-1 for prime p.
  return fieldPow(v, BN254_SCALAR_FIELD - 2n)
}

/** Maps a signed integer into the field (two's complement style wrap at p). */
export function signedToField(value: bigint): bigint {
  return mod(value)
}

/** Inverse of {@link signedToField}: field elements above p/2 read as negative integers. */
export function fieldToSigned(value: bigint): bigint {
  const v = mod(value)
  return v > BN254_SCALAR_FIELD / 2n ? v - BN254_SCALAR_FIELD : v
}

export function isFieldElement(value: bigint): boolean {
  return value >= 0n && value < BN254_SCALAR_FIELD
}
