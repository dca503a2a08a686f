import { ByteReader } from '../wire/byte-reader.js';
import { ByteWriter, checkLength } from '../wire/byte-writer.js';
import { ucs2String } from '../wire/bytes.js';

/**
 * ICBM channel 1, TLV 2: a list of fragments `id u8, version u8, length u16, data`
 * (libpurple family_icbm.c aim_im_sendch1_ext; retro-aim-server wire/snacs.go ICBMCh1Fragment).
 * Fragment 5 lists capabilities; fragment 1 is text: charset u16, subset u16, bytes.
 */
export type MessageFragment = RawFragment | TextFragment;

/** A message fragment this codec does not interpret, kept as read. */
export interface RawFragment {
  id: number;
  version: number;
  data: Uint8Array;
}

/** The text fragment of a message (id 1): its charset and the text in it. */
export interface TextFragment {
  id: 1;
  version: number;
  /** 0 ASCII, 2 UCS-2BE, 3 Latin-1 (retro-aim-server ICBMMessageEncoding*). */
  charset: number;
  subset: number;
  /**
   * The text exactly as carried: UCS-2BE as UTF-16 code units, any other charset as a byte string
   * (one char per byte), so re-encoding is byte-identical.
   */
  text: string;
}

/** Text fragment charsets. */
export const Charset = { ascii: 0, ucs2be: 2, latin1: 3 } as const;

export const FRAGMENT_CAPABILITIES = 0x05;
export const FRAGMENT_TEXT = 0x01;

export function isTextFragment(f: MessageFragment): f is TextFragment {
  return 'text' in f;
}

/** Reads the fragments of a TLV 2 value: all of `source`, or what a reader spans (read in place). */
export function readFragments(source: Uint8Array | ByteReader): MessageFragment[] {
  const r = source instanceof ByteReader ? source : new ByteReader(source);
  const out: MessageFragment[] = [];
  while (!r.done) {
    const id = r.u8('fragment id');
    const version = r.u8('fragment version');
    const length = r.u16('fragment length');
    r.need(length, 'fragment data');
    if (id === FRAGMENT_TEXT && length >= 4) {
      const end = r.offset + length;
      const charset = (r.bytes[r.offset]! << 8) | r.bytes[r.offset + 1]!;
      const n = length - 4;
      if (charset !== Charset.ucs2be || n % 2 === 0) {
        r.offset += 2;
        const subset = r.u16();
        const text = charset === Charset.ucs2be ? readUcs2(r, n) : r.byteString(n, 'message text');
        out.push({ id: FRAGMENT_TEXT, version, charset, subset, text });
        r.offset = end;
        continue;
      }
    }
    out.push({ id, version, data: r.view(length, 'fragment data') });
  }
  return out;
}

function readUcs2(r: ByteReader, n: number): string {
  const s = ucs2String(r.bytes, r.offset, r.offset + n);
  r.offset += n;
  return s;
}

function fragmentDataSize(f: MessageFragment): number {
  if (!isTextFragment(f)) return f.data.length;
  return 4 + (f.charset === Charset.ucs2be ? f.text.length * 2 : f.text.length);
}

export function fragmentsSize(fragments: readonly MessageFragment[]): number {
  let n = 0;
  for (const f of fragments) n += 4 + fragmentDataSize(f);
  return n;
}

export function writeFragments(w: ByteWriter, fragments: readonly MessageFragment[]): void {
  for (const f of fragments) {
    const size = fragmentDataSize(f);
    checkLength(size, 0xffff, 'ICBM fragment');
    w.u8(f.id);
    w.u8(f.version);
    w.u16(size);
    if (!isTextFragment(f)) {
      w.raw(f.data);
    } else {
      w.u16(f.charset);
      w.u16(f.subset);
      if (f.charset === Charset.ucs2be) {
        for (let i = 0; i < f.text.length; i++) w.u16(f.text.charCodeAt(i));
      } else {
        w.byteString(f.text);
      }
    }
  }
}

export function encodeFragments(fragments: readonly MessageFragment[]): Uint8Array {
  const w = new ByteWriter(fragmentsSize(fragments));
  writeFragments(w, fragments);
  return w.bytes;
}
