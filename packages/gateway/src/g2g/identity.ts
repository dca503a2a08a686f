import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { InvalidIdentityKeyError } from '../errors/errors.js';

/**
 * A gateway's identity: an ed25519 key pair; its id is the raw 32-byte public key in hex
 * (DESIGN.md: "each gateway has an ed25519 key pair and its id is the public key").
 */
export interface GatewayIdentity {
  /** The gateway's id: its ed25519 public key, hex. */
  readonly id: string;
  /** The public key. */
  readonly publicKey: KeyObject;
  /** The private key. */
  readonly privateKey: KeyObject;
  /** Signs bytes with the private key (ed25519). */
  sign(data: Uint8Array): Uint8Array;
  /** PKCS#8 PEM, for the hard-state store. */
  exportPrivateKey(): string;
}

// DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410 §4): the raw key follows these 12 bytes.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(ED25519_SPKI_PREFIX.length);
}

/** The ed25519 public key a gateway id (hex) stands for. */
export function publicKeyFromId(id: string): KeyObject {
  // Importing a key costs about as much as the verify it serves (bench profile); a federation has
  // few gateways, so their keys are kept.
  const known = publicKeys.get(id);
  if (known) return known;
  if (!/^[0-9a-f]{64}$/.test(id)) throw new TypeError('a gateway id is 64 lower-case hex digits');
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(id, 'hex')]),
    format: 'der',
    type: 'spki',
  });
  if (publicKeys.size >= MAX_PUBLIC_KEYS) publicKeys.clear();
  publicKeys.set(id, key);
  return key;
}

/** Imported gateway keys by id (bounded: ids come from the wire). */
const publicKeys = new Map<string, KeyObject>();
const MAX_PUBLIC_KEYS = 4096;

function fromPrivateKey(privateKey: KeyObject): GatewayIdentity {
  const publicKey = createPublicKey(privateKey);
  return {
    id: rawPublicKey(publicKey).toString('hex'),
    publicKey,
    privateKey,
    sign: (data) => new Uint8Array(sign(null, data, privateKey)),
    exportPrivateKey: () => privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** A fresh ed25519 key pair for a gateway. */
export function generateIdentity(): GatewayIdentity {
  return fromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/**
 * The identity whose PKCS#8 PEM private key is `pem`; `source` names where it came from (the state
 * file) in the `InvalidIdentityKeyError` thrown when it is not an ed25519 private key.
 */
export function identityFromPem(pem: string, source = 'the given PEM'): GatewayIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new InvalidIdentityKeyError(source, 'not a PEM private key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new InvalidIdentityKeyError(source, `a ${key.asymmetricKeyType} key, not ed25519`);
  return fromPrivateKey(key);
}

/**
 * The identity's key pair in libsodium's form, as Noise (`@hyperswarm/secret-stream`, hyperdht)
 * takes it: the raw 32-byte public key, and the 64-byte secret key that is the 32-byte seed
 * followed by the public key. The gateway's id is this public key, so it is also its Noise static key.
 */
export function identityKeyPair(identity: GatewayIdentity): { publicKey: Uint8Array; secretKey: Uint8Array } {
  // An ed25519 private key as JWK (RFC 8037 §2): `d` is the seed, `x` the public key, base64url.
  const jwk = identity.privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const publicKey = Buffer.from(jwk.x ?? '', 'base64url');
  if (seed.length !== 32 || publicKey.toString('hex') !== identity.id)
    throw new InvalidIdentityKeyError('the gateway identity', 'not an ed25519 key pair');
  return {
    publicKey: new Uint8Array(publicKey),
    secretKey: new Uint8Array(Buffer.concat([seed, publicKey])),
  };
}

/** True when `signature` is `id`'s ed25519 signature of `data`. Never throws. */
export function verifySignature(id: string, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify(null, data, publicKeyFromId(id), signature);
  } catch {
    return false;
  }
}
