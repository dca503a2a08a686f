import { fromLatin1, latin1 } from '@crosstalk/core';

/**
 * OSCAR carries most strings as bytes without naming an encoding (screen names, feedbag names,
 * ICQ texts, auth reasons). Frames keep them as byte strings (one char per byte, so re-encoding is
 * exact for any bytes); these helpers give the text a person meant and back.
 */

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The text behind a byte string: UTF-8 when the bytes are valid UTF-8 (libpurple sends that), else Latin-1. */
export function byteStringToText(bytes: string): string {
  if (isAscii(bytes)) return bytes;
  try {
    return utf8Fatal.decode(fromLatin1(bytes));
  } catch {
    return bytes;
  }
}

/** A byte string for `text`: ASCII as is, anything else as UTF-8. */
export function textToByteString(text: string): string {
  if (isAscii(text)) return text;
  return latin1(utf8Encoder.encode(text));
}
