import { decodeUtf8 } from '@crosstalk/core';
import { PROTOCOL } from '../header/header.js';
import { latin1 } from '../packet/bytes.js';

const lenientUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Message text (keys 14, 19): UTF-8 when the packet says so with key 97 = 1, decoded fatally
 * (bad bytes raise `InvalidEncodingError`); otherwise the sender's local charset, which libpurple
 * defaults to ISO-8859-1 (yahoo_string_decode). Always a whole value, never a TCP chunk.
 */
export function decodeText(bytes: Uint8Array, utf8: boolean): string {
  return utf8 ? decodeUtf8(bytes, PROTOCOL) : latin1(bytes);
}

/** Names (groups, first/last names) with no UTF-8 flag: UTF-8 when valid, else Latin-1. */
export function decodeName(bytes: Uint8Array): string {
  try {
    return lenientUtf8.decode(bytes);
  } catch {
    return latin1(bytes);
  }
}
