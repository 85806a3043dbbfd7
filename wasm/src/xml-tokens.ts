/**
 * A small, strict XML tokenizer for SVG: start and end tags with their attributes, text, CDATA, comments,
 * processing instructions and the DOCTYPE, one token at a time, with character references and entities
 * already decoded. Not a validating parser: it checks what a sanitiser relies on (tags nest, attributes are
 * quoted and not repeated, references are defined) and throws CodecError("corrupt") naming the offset otherwise.
 *
 * Entities: the five predefined, numeric references, and internal entities declared in the DOCTYPE whose value is
 * plain text (no markup, no references), as Adobe Illustrator writes them for its namespace URIs. External
 * entities (SYSTEM/PUBLIC), parameter entities and entities that refer to others are refused: that is XXE and the
 * "billion laughs" expansion, neither of which can then happen.
 */
import { CodecError } from "./errors.ts";

export type XmlToken =
  | { kind: "start"; name: string; attributes: Array<{ name: string; value: string }>; selfClosing: boolean; offset: number }
  | { kind: "end"; name: string; offset: number }
  | { kind: "text"; text: string; offset: number }
  | { kind: "comment"; offset: number }
  | { kind: "pi"; target: string; offset: number }
  | { kind: "doctype"; offset: number };

const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
/** Declared entities accepted, and the length of each value: enough for Illustrator's, far from a bomb. */
const MAX_ENTITIES = 64;
const MAX_ENTITY_CHARS = 1024;

const NAME = /[A-Za-z_:][-A-Za-z0-9._:\u00B7-\uFFFF]*/y;
const SPACE = /[ \t\r\n]*/y;

export class XmlTokenizer {
  private pos = 0;
  private readonly entities = new Map<string, string>();
  private readonly open: string[] = [];
  private rootSeen = false;

  private readonly text: string;
  /** Sniffing: entity declarations we refuse are skipped (and their entities left undefined) instead of thrown. */
  private readonly lenient: boolean;

  constructor(text: string, options: { lenientDoctype?: boolean } = {}) {
    this.text = text;
    this.lenient = options.lenientDoctype ?? false;
  }

  /** The depth of open elements (after the last token). */
  get depth(): number {
    return this.open.length;
  }

  /** The next token, or undefined at the end of a well-formed document. */
  next(): XmlToken | undefined {
    const { text } = this;
    if (this.pos >= text.length) {
      if (this.open.length > 0) this.fail(`<${this.open.at(-1)}> is never closed`);
      if (!this.rootSeen) this.fail("there is no root element");
      return undefined;
    }
    const offset = this.pos;
    if (text[offset] !== "<") {
      let end = text.indexOf("<", offset);
      if (end < 0) end = text.length;
      const raw = text.slice(offset, end);
      this.pos = end;
      if (this.open.length === 0 && raw.trim() !== "") this.fail("text outside the root element");
      return { kind: "text", text: this.decode(raw, offset), offset };
    }
    if (text.startsWith("<!--", offset)) {
      const end = text.indexOf("-->", offset + 4);
      if (end < 0) this.fail("a comment is never closed");
      this.pos = end + 3;
      return { kind: "comment", offset };
    }
    if (text.startsWith("<![CDATA[", offset)) {
      if (this.open.length === 0) this.fail("CDATA outside the root element");
      const end = text.indexOf("]]>", offset + 9);
      if (end < 0) this.fail("a CDATA section is never closed");
      this.pos = end + 3;
      return { kind: "text", text: text.slice(offset + 9, end), offset };
    }
    if (text.startsWith("<?", offset)) {
      const end = text.indexOf("?>", offset + 2);
      if (end < 0) this.fail("a processing instruction is never closed");
      this.pos = offset + 2;
      const target = this.name("processing instruction");
      this.pos = end + 2;
      return { kind: "pi", target, offset };
    }
    if (text.startsWith("<!DOCTYPE", offset)) {
      if (this.rootSeen) this.fail("a DOCTYPE after the root element");
      this.doctype();
      return { kind: "doctype", offset };
    }
    if (text.startsWith("</", offset)) {
      this.pos = offset + 2;
      const name = this.name("end tag");
      this.space();
      if (text[this.pos] !== ">") this.fail(`end tag </${name}> is not closed by >`);
      this.pos++;
      const expected = this.open.pop();
      if (expected !== name) this.fail(expected ? `</${name}> closes <${expected}>` : `</${name}> has no start tag`);
      return { kind: "end", name, offset };
    }
    return this.startTag(offset);
  }

  private startTag(offset: number): XmlToken {
    const { text } = this;
    if (this.open.length === 0 && this.rootSeen) this.fail("a second root element");
    this.pos = offset + 1;
    const name = this.name("start tag");
    const attributes: Array<{ name: string; value: string }> = [];
    for (;;) {
      const spaced = this.space();
      const c = text[this.pos];
      if (c === ">" || (c === "/" && text[this.pos + 1] === ">")) {
        const selfClosing = c === "/";
        this.pos += selfClosing ? 2 : 1;
        this.rootSeen = true;
        if (!selfClosing) this.open.push(name);
        return { kind: "start", name, attributes, selfClosing, offset };
      }
      if (c === undefined) this.fail(`start tag <${name}> is never closed`);
      if (!spaced) this.fail(`attributes of <${name}> must be separated by white space`);
      const attribute = this.name(`an attribute of <${name}>`);
      this.space();
      if (text[this.pos] !== "=") this.fail(`attribute ${attribute} of <${name}> has no value`);
      this.pos++;
      this.space();
      const quote = text[this.pos];
      if (quote !== '"' && quote !== "'") this.fail(`attribute ${attribute} of <${name}> is not quoted`);
      const end = text.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail(`attribute ${attribute} of <${name}> is never closed`);
      const raw = text.slice(this.pos + 1, end);
      if (raw.includes("<")) this.fail(`attribute ${attribute} of <${name}> contains <`);
      if (attributes.some((a) => a.name === attribute)) this.fail(`attribute ${attribute} is repeated on <${name}>`);
      // Attribute-value normalisation (XML 1.0 §3.3.3): literal white space becomes a space.
      attributes.push({ name: attribute, value: this.decode(raw, this.pos + 1).replace(/[\t\r\n]/g, " ") });
      this.pos = end + 1;
    }
  }

  /** `<!DOCTYPE name ExternalID? [ internal subset ]? >`: only plain internal general entities are taken. */
  private doctype(): void {
    const { text } = this;
    this.pos += 9;
    for (;;) {
      const c = text[this.pos];
      if (c === undefined) this.fail("the DOCTYPE is never closed");
      if (c === ">") {
        this.pos++;
        return;
      }
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, this.pos + 1);
        if (end < 0) this.fail("a DOCTYPE literal is never closed");
        this.pos = end + 1;
      } else if (c === "[") {
        this.pos++;
        this.internalSubset();
      } else {
        this.pos++;
      }
    }
  }

  private internalSubset(): void {
    const { text } = this;
    for (;;) {
      this.space();
      if (text[this.pos] === "]") {
        this.pos++;
        return;
      }
      if (text.startsWith("<!--", this.pos)) {
        const end = text.indexOf("-->", this.pos + 4);
        if (end < 0) this.fail("a comment in the DOCTYPE is never closed");
        this.pos = end + 3;
      } else if (text.startsWith("<!ENTITY", this.pos)) {
        const start = this.pos;
        try {
          this.entityDeclaration();
        } catch (error) {
          if (!(this.lenient && error instanceof CodecError && error.kind === "unsupported")) throw error;
          this.pos = this.declarationEnd(start) + 1;
        }
      } else if (text.startsWith("<!", this.pos) || text.startsWith("<?", this.pos)) {
        // ELEMENT, ATTLIST, NOTATION declarations and PIs: skipped (attribute defaults from an ATTLIST are not applied).
        const end = this.declarationEnd(this.pos);
        this.pos = end + 1;
      } else if (text[this.pos] === "%") {
        if (!this.lenient) this.refuseEntities("a parameter entity reference");
        const end = text.indexOf(";", this.pos);
        if (end < 0) this.fail("a parameter entity reference is never closed");
        this.pos = end + 1;
      } else {
        this.fail("malformed DOCTYPE internal subset");
      }
    }
  }

  /** `<!ENTITY name "plain text">`: recorded; anything else refused. */
  private entityDeclaration(): void {
    const { text } = this;
    this.pos += 8;
    if (!this.space()) this.fail("malformed <!ENTITY> declaration");
    if (text[this.pos] === "%") this.refuseEntities("a parameter entity");
    const name = this.name("an entity declaration");
    this.space();
    const quote = text[this.pos];
    if (quote !== '"' && quote !== "'") this.refuseEntities(`entity &${name}; is external (SYSTEM or PUBLIC)`);
    const end = text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail(`the value of entity &${name}; is never closed`);
    const value = text.slice(this.pos + 1, end);
    if (/[&%<]/.test(value)) this.refuseEntities(`entity &${name}; contains markup or refers to other entities`);
    if (value.length > MAX_ENTITY_CHARS) this.refuseEntities(`entity &${name}; is over ${MAX_ENTITY_CHARS} characters`);
    if (this.entities.size >= MAX_ENTITIES) this.refuseEntities(`more than ${MAX_ENTITIES} entities are declared`);
    if (!this.entities.has(name)) this.entities.set(name, value);
    this.pos = end + 1;
    this.space();
    if (text[this.pos] !== ">") this.fail(`the declaration of entity &${name}; is not closed by >`);
    this.pos++;
  }

  /** The `>` that ends a markup declaration starting at `from`, past quoted literals. */
  private declarationEnd(from: number): number {
    const { text } = this;
    for (let i = from + 2; i < text.length; i++) {
      const c = text[i];
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, i + 1);
        if (end < 0) break;
        i = end;
      } else if (c === ">") {
        return i;
      }
    }
    return this.fail("a declaration in the DOCTYPE is never closed");
  }

  /** Replaces character references and entities in text or an attribute value. */
  private decode(raw: string, offset: number): string {
    if (!raw.includes("&")) return raw;
    return raw.replace(/&([^;&\s]*);?/g, (match, ref: string, at: number) => {
      if (!match.endsWith(";")) this.fail(`a "&" that starts no reference`, offset + at);
      if (ref.startsWith("#")) {
        const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : /^#\d+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
        const valid = /^#(x[0-9a-fA-F]+|\d+)$/.test(ref) && code <= 0x10ffff && (code === 0x9 || code === 0xa || code === 0xd || code >= 0x20) && !(code >= 0xd800 && code <= 0xdfff);
        if (!valid) this.fail(`&${ref}; is not a valid character reference`, offset + at);
        return String.fromCodePoint(code);
      }
      const value = PREDEFINED[ref] ?? this.entities.get(ref);
      if (value === undefined) this.fail(`entity &${ref}; is not defined`, offset + at);
      return value;
    });
  }

  private name(what: string): string {
    NAME.lastIndex = this.pos;
    const m = NAME.exec(this.text);
    if (!m) this.fail(`${what} has no valid name`);
    this.pos += m[0].length;
    return m[0];
  }

  /** Skips white space; whether there was any. */
  private space(): boolean {
    SPACE.lastIndex = this.pos;
    const n = SPACE.exec(this.text)![0].length;
    this.pos += n;
    return n > 0;
  }

  private refuseEntities(why: string): never {
    throw new CodecError("unsupported", `SVG DOCTYPE declarations are limited to plain text entities (no XXE or entity expansion): ${why}`);
  }

  private fail(message: string, at = this.pos): never {
    throw new CodecError("corrupt", `SVG is not well-formed XML at character ${at}: ${message}`);
  }
}
