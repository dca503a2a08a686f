import HyperDHT, { type HyperDhtKeyPair } from 'hyperdht';
import * as sodium from 'sodium-universal';

/**
 * Every name this package derives, in one place. BLAKE2b-256 (libsodium's generic hash, as hyperdht
 * uses for its own targets) over a domain label, so that none of these can collide with another
 * use of the same bytes, and ed25519 key pairs from 32-byte seeds (hyperdht's `keyPair(seed)`).
 */

export type KeyPair = HyperDhtKeyPair;

const encoder = new TextEncoder();
const LABEL = 'crosstalk/dht/v1';

function label(name: string): Uint8Array {
  return encoder.encode(`${LABEL}/${name}\0`);
}

const TOPIC = label('topic');
const SECRET = label('secret');
const PUBLISHER = label('publisher');
const ANONYMOUS = label('anonymous');
const VALUE = label('value');
const CERTIFICATE = label('certificate');
const SLOT = label('slot');
const SLOT_TAG = label('slot-tag');

function hash(parts: readonly Uint8Array[], key?: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  sodium.crypto_generichash(out, Buffer.concat(parts), key);
  return out;
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** The hyperdht topic a directory key is announced on; the namespace keeps directories apart. */
export function topicOf(namespace: string, key: string): Buffer {
  return hash([TOPIC, lengthPrefixed(encoder.encode(namespace)), encoder.encode(key)]);
}

/** The hash of a value's bytes, which names the value's key pair (so a re-put finds its record). */
export function valueHash(value: Uint8Array): Buffer {
  return hash([VALUE, value]);
}

/** A secret as a 32-byte hashing key: every key pair a publisher holds is derived from it. */
export function secretKeyOf(secret: string): Buffer {
  return hash([SECRET, encoder.encode(secret)]);
}

/** The publisher key pair of one secret under one topic: it certifies the secret's values there. */
export function publisherKeyPair(secretKey: Uint8Array, topic: Uint8Array): KeyPair {
  return HyperDHT.keyPair(hash([PUBLISHER, topic], secretKey));
}

/**
 * The one publisher that values put without a secret share, derivable by anyone from the topic:
 * such values share one quota (as in MemoryDht), and nobody can remove them.
 */
export function anonymousPublisherKeyPair(topic: Uint8Array): KeyPair {
  return HyperDHT.keyPair(hash([ANONYMOUS, topic]));
}

/** The key pair a secret's value lives under: only the secret's holder can sign or tombstone it. */
export function valueKeyPair(secretKey: Uint8Array, topic: Uint8Array, hashOfValue: Uint8Array): KeyPair {
  return HyperDHT.keyPair(hash([VALUE, topic, hashOfValue], secretKey));
}

/** The tag a slot's name is stored as in its record (`SLOT_TAG_BYTES`: a publisher's slots apart). */
export function slotTag(slot: string): Uint8Array {
  return new Uint8Array(hash([SLOT_TAG, encoder.encode(slot)]).subarray(0, 8));
}

/**
 * The key pair of a secret's slot under a topic: the same for every value put into the slot (so a
 * new value is a higher sequence number of one record), and derivable again from the record's tag.
 */
export function slotKeyPair(secretKey: Uint8Array, topic: Uint8Array, tag: Uint8Array): KeyPair {
  return HyperDHT.keyPair(hash([SLOT, topic, tag], secretKey));
}

/** A value key pair for a value put without a secret: from a random seed nobody else holds. */
export function randomKeyPair(): KeyPair {
  const seed = Buffer.alloc(32);
  sodium.randombytes_buf(seed);
  return HyperDHT.keyPair(seed);
}

function certified(topic: Uint8Array, valuePublicKey: Uint8Array): Uint8Array {
  return Buffer.concat([CERTIFICATE, topic, valuePublicKey]);
}

/** The publisher's signature that the value key belongs to its share of this topic. */
export function certify(publisher: KeyPair, topic: Uint8Array, valuePublicKey: Uint8Array): Buffer {
  const signature = Buffer.alloc(64);
  sodium.crypto_sign_detached(signature, certified(topic, valuePublicKey), publisher.secretKey);
  return signature;
}

export function verifyCertificate(
  publisherPublicKey: Uint8Array,
  certificate: Uint8Array,
  topic: Uint8Array,
  valuePublicKey: Uint8Array,
): boolean {
  return sodium.crypto_sign_verify_detached(
    certificate,
    certified(topic, valuePublicKey),
    publisherPublicKey,
  );
}
