/**
 * A small XML parser for the subset TwiML uses: elements, attributes, text, CDATA,
 * comments, processing instructions and the five predefined + numeric entities.
 * No DTDs, no namespaces: a document with those is not TwiML Twilio would accept either.
 */

export interface XmlElement {
  kind: 'element';
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}

export interface XmlText {
  kind: 'text';
  text: string;
}

export type XmlNode = XmlElement | XmlText;

export class XmlParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'XmlParseError';
  }
}

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;
const PREDEFINED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(raw: string, offset = 0): string {
  return raw.replace(/&([^;&\s]*);?/g, (match, body: string) => {
    if (!match.endsWith(';')) throw new XmlParseError('unterminated entity', offset);
    if (body.startsWith('#x') || body.startsWith('#X')) return codePoint(parseInt(body.slice(2), 16), offset);
    if (body.startsWith('#')) return codePoint(parseInt(body.slice(1), 10), offset);
    const named = PREDEFINED_ENTITIES[body];
    if (named === undefined) throw new XmlParseError(`unknown entity &${body};`, offset);
    return named;
  });
}

function codePoint(n: number, offset: number): string {
  if (!Number.isFinite(n) || n < 0 || n > 0x10ffff) throw new XmlParseError('bad character reference', offset);
  return String.fromCodePoint(n);
}

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parseDocument(): XmlElement {
    this.skipMisc();
    if (this.src[this.pos] !== '<') throw new XmlParseError('expected root element', this.pos);
    const root = this.parseElement();
    this.skipMisc();
    if (this.pos !== this.src.length) throw new XmlParseError('content after root element', this.pos);
    return root;
  }

  /** whitespace, comments and processing instructions (including the XML declaration) */
  private skipMisc(): void {
    for (;;) {
      this.skipSpace();
      if (this.src.startsWith('<?', this.pos)) this.skipPast('?>');
      else if (this.src.startsWith('<!--', this.pos)) this.skipPast('-->');
      else if (this.src.startsWith('<!DOCTYPE', this.pos)) throw new XmlParseError('DOCTYPE not supported', this.pos);
      else return;
    }
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }

  private skipPast(terminator: string): string {
    const end = this.src.indexOf(terminator, this.pos);
    if (end < 0) throw new XmlParseError(`missing ${terminator}`, this.pos);
    const skipped = this.src.slice(this.pos, end);
    this.pos = end + terminator.length;
    return skipped;
  }

  private parseName(): string {
    const start = this.pos;
    if (!NAME_START.test(this.src[this.pos] ?? '')) throw new XmlParseError('expected a name', this.pos);
    while (this.pos < this.src.length && NAME_CHAR.test(this.src[this.pos])) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private parseElement(): XmlElement {
    this.pos++; // '<'
    const name = this.parseName();
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      const c = this.src[this.pos];
      if (c === undefined) throw new XmlParseError(`unterminated <${name}>`, this.pos);
      if (c === '/') {
        if (this.src[this.pos + 1] !== '>') throw new XmlParseError('expected />', this.pos);
        this.pos += 2;
        return { kind: 'element', name, attrs, children: [] };
      }
      if (c === '>') {
        this.pos++;
        break;
      }
      if (before === this.pos) throw new XmlParseError('expected whitespace before attribute', this.pos);
      const attrName = this.parseName();
      this.skipSpace();
      if (this.src[this.pos] !== '=') throw new XmlParseError(`expected = after ${attrName}`, this.pos);
      this.pos++;
      this.skipSpace();
      const quote = this.src[this.pos];
      if (quote !== '"' && quote !== "'") throw new XmlParseError('expected quoted attribute value', this.pos);
      this.pos++;
      const valueStart = this.pos;
      const raw = this.skipPast(quote);
      if (raw.includes('<')) throw new XmlParseError('< in attribute value', valueStart);
      if (attrName in attrs) throw new XmlParseError(`duplicate attribute ${attrName}`, valueStart);
      attrs[attrName] = decodeEntities(raw, valueStart);
    }
    const children = this.parseContent(name);
    return { kind: 'element', name, attrs, children };
  }

  private parseContent(parent: string): XmlNode[] {
    const children: XmlNode[] = [];
    let text = '';
    const flushText = (): void => {
      if (text) children.push({ kind: 'text', text });
      text = '';
    };
    for (;;) {
      if (this.pos >= this.src.length) throw new XmlParseError(`unclosed <${parent}>`, this.pos);
      if (this.src.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.parseName();
        if (closing !== parent) throw new XmlParseError(`</${closing}> does not close <${parent}>`, this.pos);
        this.skipSpace();
        if (this.src[this.pos] !== '>') throw new XmlParseError('expected >', this.pos);
        this.pos++;
        flushText();
        return children;
      }
      if (this.src.startsWith('<!--', this.pos)) {
        this.skipPast('-->');
      } else if (this.src.startsWith('<![CDATA[', this.pos)) {
        this.pos += '<![CDATA['.length;
        text += this.skipPast(']]>');
      } else if (this.src.startsWith('<?', this.pos)) {
        this.skipPast('?>');
      } else if (this.src[this.pos] === '<') {
        flushText();
        children.push(this.parseElement());
      } else {
        const start = this.pos;
        const next = this.src.indexOf('<', this.pos);
        this.pos = next < 0 ? this.src.length : next;
        text += decodeEntities(this.src.slice(start, this.pos), start);
      }
    }
  }
}

/** Parses a whole document and returns its root element; throws XmlParseError. */
export function parseXml(src: string): XmlElement {
  return new Parser(src).parseDocument();
}

export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.kind === 'element');
}

/** The element's own text (not its children's), whitespace collapsed. */
export function ownText(el: XmlElement): string {
  return el.children
    .filter((c): c is XmlText => c.kind === 'text')
    .map((c) => c.text)
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}
