/**
 * AIM clients send HTML (`<HTML><BODY><FONT ...>hi</FONT></BODY></HTML>`, libpurple oscar.c
 * purple_plugin_oscar_convert_to_best_encoding / oscar_encode_im). The canonical `im` keeps that
 * markup in `html` and a plain-text rendering in `text`.
 */

const MARKUP = /<[A-Za-z/!]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);/;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function looksLikeHtml(text: string): boolean {
  return MARKUP.test(text);
}

/** Plain text from AIM HTML: line breaks kept, tags dropped, entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p\s*>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);/g, (whole, name: string) => {
      if (name[0] === '#') {
        const code =
          name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isFinite(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    });
}

/** Plain text as AIM HTML, so a receiving client shows `<`, `&` and line breaks as typed. */
export function textToHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, '<BR>');
}
