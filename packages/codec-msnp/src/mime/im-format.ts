import { argValue, encodeArg } from '../command/command.js';

/**
 * `X-MMS-IM-Format: FN=Arial; EF=B; CO=ff0000; CS=0; PF=22` carries the sender's font (FN,
 * URL-encoded), effects (EF: B, I, U, S), colour (CO: hex of BGR, so `ff` is red), charset (CS) and
 * pitch/family (PF) (MSNP wiki "MIME types", text/plain). The canonical event carries formatting as
 * XHTML-IM-style markup; this maps between the two for the parts both can say.
 */
export interface ImFormat {
  font?: string;
  bold?: boolean;
  italic?: boolean;
  underline?: boolean;
  strike?: boolean;
  /** `#rrggbb`. */
  color?: string;
  /** CS and PF as sent, kept so a relayed format is not altered. */
  charset?: string;
  pitchFamily?: string;
  rightToLeft?: boolean;
}

/** Reads an `X-MMS-IM-Format` header value; unknown parts are ignored. */
export function parseImFormat(value: string): ImFormat {
  const format: ImFormat = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toUpperCase();
    const v = part.slice(eq + 1).trim();
    switch (key) {
      case 'FN':
        if (v) format.font = argValue(v);
        break;
      case 'EF':
        if (v.includes('B')) format.bold = true;
        if (v.includes('I')) format.italic = true;
        if (v.includes('U')) format.underline = true;
        if (v.includes('S')) format.strike = true;
        break;
      case 'CO': {
        if (!/^[0-9a-fA-F]{1,6}$/.test(v)) break;
        const bgr = v.padStart(6, '0').toLowerCase();
        format.color = `#${bgr.slice(4, 6)}${bgr.slice(2, 4)}${bgr.slice(0, 2)}`;
        break;
      }
      case 'CS':
        format.charset = v;
        break;
      case 'PF':
        format.pitchFamily = v;
        break;
      case 'RL':
        if (v === '1') format.rightToLeft = true;
        break;
      default:
        break;
    }
  }
  return format;
}

/** Writes an `X-MMS-IM-Format` header value (the inverse of `parseImFormat`). */
export function formatImFormat(format: ImFormat): string {
  let effects = '';
  if (format.bold) effects += 'B';
  if (format.italic) effects += 'I';
  if (format.underline) effects += 'U';
  if (format.strike) effects += 'S';
  let co = '0';
  if (format.color && /^#[0-9a-fA-F]{6}$/.test(format.color)) {
    const rgb = format.color.slice(1).toLowerCase();
    co = `${rgb.slice(4, 6)}${rgb.slice(2, 4)}${rgb.slice(0, 2)}`.replace(/^0+(?=.)/, '');
  }
  const parts = [
    `FN=${encodeArg(format.font ?? 'Arial')}`,
    `EF=${effects}`,
    `CO=${co}`,
    `CS=${format.charset ?? '0'}`,
    `PF=${format.pitchFamily ?? '22'}`,
  ];
  if (format.rightToLeft) parts.push('RL=1');
  return parts.join('; ');
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

const NEEDS_ESCAPE = /[&<>"']/;

export function escapeHtml(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c]!) : text;
}

/** The markup around a message with this format: a styled span, then b/i/u/s as the effects say. */
function wrapperOf(format: ImFormat): { open: string; close: string } {
  let open = '';
  let close = '';
  const style: string[] = [];
  if (format.font) style.push(`font-family:${escapeHtml(format.font)}`);
  if (format.color) style.push(`color:${format.color}`);
  if (style.length) {
    open = `<span style="${style.join(';')}">`;
    close = '</span>';
  }
  for (const [on, tag] of [
    [format.bold, 'b'],
    [format.italic, 'i'],
    [format.underline, 'u'],
    [format.strike, 's'],
  ] as const) {
    if (on) {
      open += `<${tag}>`;
      close = `</${tag}>${close}`;
    }
  }
  return { open, close };
}

/** Markup for a message with this format: a styled span around b/i/u/s as the effects say. */
export function imFormatToHtml(format: ImFormat, text: string): string {
  const { open, close } = wrapperOf(format);
  return open + escapeHtml(text) + close;
}

/** A sender keeps its font for a whole conversation: the markup per header value is worth keeping. */
const wrappers = new Map<string, { open: string; close: string }>();

/** `imFormatToHtml(parseImFormat(value), text)`, with the parsed format cached per header value. */
export function imFormatValueToHtml(value: string, text: string): string {
  let wrapper = wrappers.get(value);
  if (!wrapper) {
    wrapper = wrapperOf(parseImFormat(value));
    if (wrappers.size >= 1024) wrappers.clear();
    wrappers.set(value, wrapper);
  }
  return wrapper.open + escapeHtml(text) + wrapper.close;
}

/**
 * The format an XHTML-IM-style message asks for: the first font-family and colour in a style
 * attribute, and b/strong, i/em, u, s/strike/del anywhere. MSN formats a whole message, never a
 * part of it, so mixed formatting is flattened (the text itself always travels in `text`).
 */
export function htmlToImFormat(html: string): ImFormat {
  const format: ImFormat = {};
  const font = /font-family:\s*([^;"'>]+)/i.exec(html);
  if (font) format.font = unescapeHtml(font[1]!.trim());
  const color = /color:\s*#([0-9a-f]{6})/i.exec(html);
  if (color) format.color = `#${color[1]!.toLowerCase()}`;
  if (/<(b|strong)[\s>]/i.test(html)) format.bold = true;
  if (/<(i|em)[\s>]/i.test(html)) format.italic = true;
  if (/<u[\s>]/i.test(html)) format.underline = true;
  if (/<(s|strike|del)[\s>]/i.test(html)) format.strike = true;
  return format;
}

function unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) =>
    e === 'amp' ? '&' : e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'quot' ? '"' : "'",
  );
}
