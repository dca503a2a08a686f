import fc from 'fast-check';

/**
 * XML strings with every lexical variation a stanza can have: both quotes, whitespace inside tags,
 * `<a/>` and `<a></a>`, entity and character references spelled every way, CR/LF, non-ASCII and
 * astral characters, CDATA, comments and processing instructions (when `misc`).
 */
const name = fc.constantFrom('message', 'body', 'x:item', 'stream:features', 'a', 'b.c', 'q-1', '\u00e9l');
const attrName = fc.constantFrom('to', 'from', 'type', 'id', 'xml:lang', 'xmlns', 'xmlns:x', 'data-1');
const space = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n ');
const optSpace = fc.constantFrom('', '', ' ', '\n');

const textToken = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcxyz 0123_-.,;!?/=[]'.split('')), maxLength: 8 }),
  fc.constantFrom(
    '&amp;',
    '&#38;',
    '&#x26;',
    '&lt;',
    '&#60;',
    '&gt;',
    '>',
    '&apos;',
    "'",
    '&quot;',
    '"',
    '&#233;',
    '&#x1F600;',
    '\u00e9',
    '\u{1F600}',
    '\u65e5\u672c',
    '\r\n',
    '\r',
    '\n',
    '\t',
    '007',
  ),
);
export const rawText = fc.array(textToken, { maxLength: 6 }).map((t) => t.join(''));

const attrValue = (quote: string) =>
  fc
    .array(
      fc.oneof(
        textToken.filter((t) => !t.includes(quote) && !t.includes('<')),
        fc.constant(quote === "'" ? '"' : "'"),
      ),
      { maxLength: 5 },
    )
    .map((t) => t.join(''));

const attribute = fc
  .tuple(space, attrName, fc.constantFrom('=', ' = ', '=\n'), fc.constantFrom("'", '"'))
  .chain(([sp, n, eq, q]) => attrValue(q).map((v) => ({ name: n, text: `${sp}${n}${eq}${q}${v}${q}` })));

const attributes = fc.array(attribute, { maxLength: 4 }).map((list) =>
  list
    .filter((a, i) => list.findIndex((b) => b.name === a.name) === i)
    .map((a) => a.text)
    .join(''),
);

const misc = fc.oneof(
  fc
    .string({ unit: fc.constantFrom(...'ab <>&]x'.split('')), maxLength: 10 })
    .filter((s) => !s.includes(']]>'))
    .map((s) => `<![CDATA[${s}]]>`),
  fc.string({ unit: fc.constantFrom(...'ab <>&x'.split('')), maxLength: 10 }).map((s) => `<!--${s}-->`),
  fc.string({ unit: fc.constantFrom(...'ab <>=x'.split('')), maxLength: 10 }).map((s) => `<?pi ${s}?>`),
);

export function xmlElement(withMisc: boolean): fc.Arbitrary<string> {
  const { element } = fc.letrec<{ element: string; content: string }>((tie) => ({
    element: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(name, attributes, optSpace).map(([n, a, s]) => `<${n}${a}${s}/>`),
      fc
        .tuple(name, attributes, optSpace, fc.array(tie('content'), { maxLength: 4 }), optSpace)
        .map(([n, a, s, c, s2]) => `<${n}${a}${s}>${c.join('')}</${n}${s2}>`),
    ),
    content: withMisc ? fc.oneof(rawText, tie('element'), misc) : fc.oneof(rawText, tie('element')),
  }));
  return element;
}
