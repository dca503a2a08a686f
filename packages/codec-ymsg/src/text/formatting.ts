/**
 * Yahoo message formatting: ANSI-like escapes `ESC [ code m` (1/x1 bold, 2/x2 italic, 4/x4
 * underline, 30..39 palette colours, #rrggbb colour, l/xl link marks) and a few HTML-ish tags
 * (`<font face size color>`, `<b>`, `<i>`, `<u>`, `<alt>`, `<fade>`, `<snd>`) inside the text of
 * key 14 (libpurple util.c yahoo_codes_to_html / yahoo_html_to_codes). Our own writer: it turns
 * them into XHTML-IM-style markup (`html`) and a plain `text`, and back.
 */

// libpurple util.c esc_codes_ht (its comment: "the numbers in comments are what gyach uses").
const PALETTE: Record<string, string> = {
  '30': '#000000',
  '31': '#0000FF',
  '32': '#008080',
  '33': '#808080',
  '34': '#008000',
  '35': '#FF0080',
  '36': '#800080',
  '37': '#FF8000',
  '38': '#FF0000',
  '39': '#808000',
};
const STYLE_OPEN: Record<string, string> = { '1': 'b', '2': 'i', '4': 'u' };
const STYLE_CLOSE: Record<string, string> = { x1: 'b', x2: 'i', x4: 'u' };
const DROPPED_TAGS = new Set(['alt', '/alt', 'fade', '/fade', 'snd', '/snd']);
const SIMPLE_TAGS = new Set(['b', 'i', 'u']);

/** A message's plain text, and its formatting as markup when it had any. */
export interface FormattedText {
  text: string;
  /** Present only when the message carried formatting. */
  html?: string;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeHtml(s).replace(/"/g, '&quot;');
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  return m ? (m[2] ?? m[3] ?? m[4]) : undefined;
}

/** Decoded message text (key 14) -> plain text and, when formatted, html. */
export function parseYahooText(input: string): FormattedText {
  // Most messages carry no formatting at all.
  if (input.indexOf('\u001b') < 0 && input.indexOf('<') < 0) return { text: input };
  let text = '';
  let html = '';
  let formatted = false;
  const open: string[] = []; // element names, innermost last
  const close = (name: string) => {
    const at = open.lastIndexOf(name);
    if (at < 0) return;
    while (open.length > at) html += `</${open.pop()!}>`;
  };
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === '\u001b' && input[i + 1] === '[') {
      const end = input.indexOf('m', i + 2);
      if (end > 0 && end - i < 16) {
        const code = input.slice(i + 2, end);
        formatted = true;
        if (STYLE_OPEN[code]) {
          html += `<${STYLE_OPEN[code]}>`;
          open.push(STYLE_OPEN[code]!);
        } else if (STYLE_CLOSE[code]) {
          close(STYLE_CLOSE[code]!);
        } else if (PALETTE[code] || /^#[0-9a-fA-F]{6}$/.test(code)) {
          html += `<span style="color: ${PALETTE[code] ?? code}">`;
          open.push('span');
        } // l / xl (link marks) and unknown codes carry no markup
        i = end + 1;
        continue;
      }
    }
    if (c === '<') {
      const end = input.indexOf('>', i + 1);
      if (end > 0) {
        const tag = input.slice(i, end + 1);
        const name = /^<\s*(\/?[a-zA-Z]+)/.exec(tag)?.[1]?.toLowerCase();
        if (
          name &&
          (DROPPED_TAGS.has(name) ||
            name === 'font' ||
            name === '/font' ||
            SIMPLE_TAGS.has(name.replace('/', '')))
        ) {
          formatted = true;
          if (name === 'font') {
            const style: string[] = [];
            const face = attr(tag, 'face');
            const color = attr(tag, 'color');
            const size = attr(tag, 'size');
            if (face) style.push(`font-family: ${face}`);
            if (color) style.push(`color: ${color}`);
            if (size && /^\d+$/.test(size)) style.push(`font-size: ${size}pt`);
            html += style.length ? `<span style="${escapeAttr(style.join('; '))}">` : '<span>';
            open.push('span');
          } else if (name === '/font') {
            close('span');
          } else if (SIMPLE_TAGS.has(name)) {
            html += `<${name}>`;
            open.push(name);
          } else if (name.startsWith('/') && SIMPLE_TAGS.has(name.slice(1))) {
            close(name.slice(1));
          }
          i = end + 1;
          continue;
        }
      }
    }
    text += c;
    html += c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c;
    i++;
  }
  while (open.length) html += `</${open.pop()!}>`;
  return formatted ? { text, html } : { text };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (all, e: string) => {
    if (e[0] === '#') {
      const cp =
        e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    }
    return ENTITIES[e.toLowerCase()] ?? all;
  });
}

function hexColor(css: string): string | undefined {
  const m = /#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b/.exec(css);
  if (!m) return undefined;
  const h = m[1]!;
  return `#${h.length === 3 ? h.replace(/(.)/g, '$1$1') : h}`.toLowerCase();
}

/**
 * XHTML-IM-style markup -> Yahoo text with escapes, for sending: b/strong, i/em, u and colours
 * become escapes, `<br>` a newline, links their text, entities characters; other tags vanish.
 */
export function htmlToYahooText(html: string): string {
  let out = '';
  const stack: (string | undefined)[] = []; // the escape that closes each open element
  const re = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>|([^<]+)|(<)/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    if (m[4] !== undefined || m[5] !== undefined) {
      out += unescapeHtml(m[4] ?? m[5]!);
      continue;
    }
    const closing = m[1] === '/';
    const name = m[2]!.toLowerCase();
    const attrs = m[3] ?? '';
    if (name === 'br') {
      out += '\n';
      continue;
    }
    if (closing) {
      const closer = stack.pop();
      if (closer) out += closer;
      continue;
    }
    if (attrs.trimEnd().endsWith('/')) continue;
    let opener = '';
    let closer: string | undefined;
    if (name === 'b' || name === 'strong') [opener, closer] = ['\u001b[1m', '\u001b[x1m'];
    else if (name === 'i' || name === 'em') [opener, closer] = ['\u001b[2m', '\u001b[x2m'];
    else if (name === 'u') [opener, closer] = ['\u001b[4m', '\u001b[x4m'];
    else {
      const color =
        hexColor(attr(`<x ${attrs}>`, 'style') ?? '') ?? hexColor(attr(`<x ${attrs}>`, 'color') ?? '');
      if (color) opener = `\u001b[${color}m`;
    }
    out += opener;
    stack.push(closer);
  }
  return out;
}
