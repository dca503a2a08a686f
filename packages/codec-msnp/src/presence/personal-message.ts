/**
 * The personal message document of `UUX` (client, MSNP11+) and `UBX` (server):
 * `<Data><PSM>text</PSM><CurrentMedia></CurrentMedia></Data>` (Escargot front/msn/misc.py
 * `build_presence_notif`; msnp11-sdk mock-server `UBX`).
 */
const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
const XML_UNESCAPES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

export function unescapeXml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g,
    (whole, name: string, dec?: string, hex?: string) => {
      if (dec) return character(Number(dec));
      if (hex) return character(Number.parseInt(hex, 16));
      return XML_UNESCAPES[name] ?? whole;
    },
  );
}

/**
 * The character a reference names. One to a code point XML does not allow (XML 1.0 §4.1 WFC
 * Legal Character: NUL, a surrogate, beyond U+10FFFF) reads as U+FFFD, as a browser shows it: it
 * is a buddy's text, and it must not end the connection of everyone who has that buddy.
 */
function character(code: number): string {
  if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
  return String.fromCodePoint(code);
}

/** The PSM text of a personal message document; undefined when the document has no PSM element. */
export function personalMessageText(xml: string): string | undefined {
  if (/<PSM\s*\/>/.test(xml)) return '';
  const m = /<PSM>([\s\S]*?)<\/PSM>/.exec(xml);
  return m ? unescapeXml(m[1]!) : undefined;
}

/** The `UUX` payload that sets a personal message (MSNP11+), the text escaped. */
export function personalMessageXml(text: string): string {
  return `<Data><PSM>${escapeXml(text)}</PSM><CurrentMedia></CurrentMedia></Data>`;
}
