import { byteStringToText } from '../wire/text.js';
import { Charset, FRAGMENT_CAPABILITIES, isTextFragment, type MessageFragment } from './message-fragments.js';

/**
 * The text of a channel-1 message (every text fragment, in order): UCS-2BE as is, Latin-1 as is,
 * ASCII as UTF-8 when the bytes are valid UTF-8 (clients put it there) else Latin-1.
 */
export function fragmentsToText(fragments: readonly MessageFragment[]): string | undefined {
  let text: string | undefined;
  for (const f of fragments) {
    if (!isTextFragment(f)) continue;
    const part =
      f.charset === Charset.ucs2be || f.charset === Charset.latin1 ? f.text : byteStringToText(f.text);
    text = (text ?? '') + part;
  }
  return text;
}

/** The narrowest charset that carries `text`: ASCII, else Latin-1, else UCS-2BE (libpurple oscar_encode_im). */
export function charsetFor(text: string): number {
  let max = 0;
  for (let i = 0; i < text.length; i++) max = Math.max(max, text.charCodeAt(i));
  if (max < 0x80) return Charset.ascii;
  if (max <= 0xff) return Charset.latin1;
  return Charset.ucs2be;
}

/** Fragments for a message: capabilities `[0x01]` ("text"), then one text fragment (retro-aim-server ICBMFragmentList). */
export function textToFragments(text: string): MessageFragment[] {
  return [
    { id: FRAGMENT_CAPABILITIES, version: 1, data: Uint8Array.of(0x01) },
    { id: 1, version: 1, charset: charsetFor(text), subset: 0, text },
  ];
}
