import { msnp } from '@crosstalk/codec-msnp';
import { oscar } from '@crosstalk/codec-oscar';
import { stanza, xmpp } from '@crosstalk/codec-xmpp';
import { ymsg } from '@crosstalk/codec-ymsg';
import { type Codec, CodecRegistry } from '@crosstalk/core';
import { type CanonicalForm, jsonForm } from '@crosstalk/gateway';

/**
 * The codecs the `crosstalk` command knows. The CLI is the one place that wires every codec in
 * (docs/DESIGN.md: the gateway never imports a specific codec).
 */
export function builtInCodecs(): Codec[] {
  return [oscar(), ymsg(), msnp(), xmpp()] as Codec[];
}

/** The G2G wire format: codec-xmpp's canonical stanza form (XMPP stanzas, as in the paper). */
export function canonicalForm(): CanonicalForm {
  return stanza;
}

/** The canonical forms the CLI knows, by name: `json` (the gateway's JSON form) and `xmpp-stanza` (codec-xmpp's). */
export function canonicalForms(): ReadonlyMap<string, CanonicalForm> {
  return new Map([
    [jsonForm.name, jsonForm],
    [stanza.name, stanza],
  ]);
}

/** A `CodecRegistry` of every built-in codec. */
export function defaultRegistry(): CodecRegistry {
  return new CodecRegistry(builtInCodecs());
}
