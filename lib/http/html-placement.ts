/**
 * Where an out-of-order placeholder element (`<oc-hole>`) may stand in a page: in the body's
 * text, as an HTML tokenizer reads it. Not inside a tag (an attribute value, quoted or not, may
 * hold `>`), a comment, a doctype, or the text of a raw-text element (`script`, `style`,
 * `textarea`, `title`...), and not where an element would be moved or dropped by the tree
 * builder (a table outside its cells, a `select`, a `template`, SVG or MathML). A hole anywhere
 * else is written in place, in order: a wrong "no" costs only streaming, a wrong "yes" would
 * break the page (or move a hole's HTML into another context), so whatever is unusual counts as
 * "no".
 *
 * The page is read once, forward: ask for offsets in increasing order.
 */
export class HtmlPlacement {
  private pos = 0;
  /** Open elements that decide placement (tables, cells, select, template, svg, math). */
  private readonly open: string[] = [];
  /** Read past something it cannot follow (an unterminated comment, `plaintext`...). */
  private lost = false;
  private bodySeen = false;
  private readonly hasBody: boolean;

  constructor(private readonly body: Buffer) {
    this.hasBody = ['<body', '<BODY', '<Body'].some((t) => body.includes(t, 0, 'latin1'));
  }

  /** Whether a placeholder element may stand at byte offset `at`. */
  placeable(at: number): boolean {
    while (!this.lost && this.pos < at) {
      const lt = this.body.indexOf(LT, this.pos);
      if (lt < 0 || lt >= at) {
        this.pos = at;
        break;
      }
      const step = this.read(lt);
      if (step === undefined) {
        this.lost = true;
        break;
      }
      // `at` is inside this construct: not placeable, and nothing of it is applied yet.
      if (step.end > at) return false;
      step.apply?.();
      this.pos = step.end;
    }
    if (this.lost || (this.hasBody && !this.bodySeen)) return false;
    const top = this.open[this.open.length - 1];
    return top === undefined || CELLS.has(top);
  }

  /** The construct starting at `<` (offset `lt`): where it ends, and what it changes. */
  private read(lt: number): { end: number; apply?: () => void } | undefined {
    const b = this.body;
    const next = b[lt + 1];
    if (next === BANG) {
      if (b[lt + 2] === DASH && b[lt + 3] === DASH) {
        const close = b.indexOf('-->', lt + 4, 'latin1');
        return close < 0 ? undefined : { end: close + 3 };
      }
      return this.through(GT, lt + 2); // doctype, CDATA, bogus comment
    }
    if (next === QUESTION) return this.through(GT, lt + 2);
    if (next === SLASH) {
      if (!isLetter(b[lt + 2])) return this.through(GT, lt + 2);
      const { name, end } = this.tag(lt + 2);
      if (end === undefined) return undefined;
      return { end, apply: () => this.close(name) };
    }
    if (!isLetter(next)) return { end: lt + 1 }; // a `<` in text
    const { name, end, selfClosing } = this.tag(lt + 1);
    if (end === undefined) return undefined;
    if (name === 'plaintext') return undefined;
    if (RAW_TEXT.has(name)) {
      const closing = this.rawTextEnd(name, end);
      if (closing === undefined) return undefined;
      return { end: closing };
    }
    return { end, apply: () => this.openElement(name, selfClosing) };
  }

  /**
   * A tag's name (lower case) and the offset after its `>`. A quote right after `=` opens an
   * attribute value, which may hold `>`; anywhere else a quote is an ordinary character.
   */
  private tag(from: number): { name: string; end?: number; selfClosing: boolean } {
    const b = this.body;
    let i = from;
    while (i < b.length && !isSpace(b[i]) && b[i] !== SLASH && b[i] !== GT) i++;
    const name = b.toString('latin1', from, i).toLowerCase();
    let last = -1;
    while (i < b.length) {
      const c = b[i];
      if (c === GT) return { name, end: i + 1, selfClosing: last === SLASH };
      if ((c === QUOTE || c === APOSTROPHE) && last === EQUALS) {
        const close = b.indexOf(c, i + 1);
        if (close < 0) return { name, selfClosing: false };
        i = close + 1;
        last = c;
        continue;
      }
      if (!isSpace(c)) last = c;
      i++;
    }
    return { name, selfClosing: false };
  }

  /** The offset after `</name ...>` closing a raw-text element whose content starts at `from`. */
  private rawTextEnd(name: string, from: number): number | undefined {
    const b = this.body;
    for (let i = b.indexOf('</', from, 'latin1'); i >= 0; i = b.indexOf('</', i + 2, 'latin1')) {
      if (!this.nameAt(i + 2, name)) continue;
      const after = b[i + 2 + name.length];
      if (!(isSpace(after) || after === SLASH || after === GT)) continue;
      // A script's `<!--` can make a later `</script>` part of its text: too subtle to follow.
      if (name === 'script') {
        const comment = b.indexOf('<!--', from, 'latin1');
        if (comment >= 0 && comment < i) return undefined;
      }
      const gt = b.indexOf(GT, i);
      return gt < 0 ? undefined : gt + 1;
    }
    return undefined;
  }

  /** Whether the bytes at `at` spell `name` (lower-case letters), in any case. */
  private nameAt(at: number, name: string): boolean {
    for (let k = 0; k < name.length; k++) {
      const c = this.body[at + k];
      if (c === undefined || (c | 0x20) !== name.charCodeAt(k)) return false;
    }
    return true;
  }

  private through(char: number, from: number): { end: number } | undefined {
    const at = this.body.indexOf(char, from);
    return at < 0 ? undefined : { end: at + 1 };
  }

  private openElement(name: string, selfClosing: boolean): void {
    if (name === 'body') this.bodySeen = true;
    if (!TRACKED.has(name)) return;
    if ((name === 'svg' || name === 'math') && selfClosing) return;
    if (name === 'td' || name === 'th' || name === 'tr') this.closeCellsOfTable();
    if (name !== 'tr') this.open.push(name);
  }

  private close(name: string): void {
    if (name === 'tr' || name === 'tbody' || name === 'thead' || name === 'tfoot') {
      this.closeCellsOfTable();
      return;
    }
    if (!TRACKED.has(name)) return;
    const at = this.open.lastIndexOf(name);
    if (at >= 0) this.open.length = at;
  }

  /** Ends the cells (and caption) open in the innermost table. */
  private closeCellsOfTable(): void {
    while (this.open.length > 0 && CELLS.has(this.open[this.open.length - 1])) this.open.pop();
  }
}

const LT = 0x3c;
const GT = 0x3e;
const BANG = 0x21;
const DASH = 0x2d;
const QUESTION = 0x3f;
const SLASH = 0x2f;
const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const EQUALS = 0x3d;

/** Elements whose text is read raw, up to their end tag. */
const RAW_TEXT: ReadonlySet<string> = new Set([
  'script',
  'style',
  'textarea',
  'title',
  'xmp',
  'iframe',
  'noembed',
  'noframes',
  'noscript',
]);

/** Elements that decide whether a placeholder may stand inside them. */
const TRACKED: ReadonlySet<string> = new Set([
  'table',
  'caption',
  'td',
  'th',
  'select',
  'template',
  'svg',
  'math',
]);

/** Inside a table, the elements that may hold any content. */
const CELLS: ReadonlySet<string> = new Set(['td', 'th', 'caption']);

function isLetter(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a));
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}
