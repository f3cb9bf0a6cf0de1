import { HtmlPlacement } from './html-placement.js';

/** Whether a placeholder may stand where `@` is written in `html` (the `@` itself removed). */
function at(html: string): boolean {
  const offset = Buffer.byteLength(html.slice(0, html.indexOf('@')), 'latin1');
  return new HtmlPlacement(Buffer.from(html.replace('@', ''), 'latin1')).placeable(offset);
}

const page = (inner: string) => `<!doctype html><html><head></head><body>${inner}</body></html>`;

describe('HtmlPlacement', () => {
  it.each([
    ['between tags', page('<p>@</p>')],
    ['after a tag whose quoted attribute holds ">"', page('<a title="x>y">go</a>@')],
    ['after a comment holding ">"', page('<!-- a > b --><p>@</p>')],
    ['after a script comparing with "<" and ">"', page('<script>1 < 2 && 3 > 1</script>@')],
    ['after a textarea holding "<" and ">"', page('<textarea>a < b > c</textarea>@')],
    ['after a raw-text end tag written in capitals', page('<STYLE>p>a{}</Style>@')],
    ['in a table cell', page('<table><tr><td>@</td></tr></table>')],
    ['in a caption', page('<table><caption>@</caption></table>')],
    ['in the second cell (the first closed without </td>)', page('<table><tr><td>a<td>@')],
    ['after a table', page('<table><tr><td>a</td></tr></table>@')],
    ['after a self-closing svg', page('<svg/>@')],
    ['after an svg', page('<svg><path d="M0 0"/></svg>@')],
    ['after a quote that opens no value', page('<a b"c>x</a>@')],
    ['in a fragment (no body tag)', '<div>@</div>'],
    ['in text with a lone "<"', page('<p>1 < 2 @</p>')],
  ])('places %s', (_name, html) => {
    expect(at(html)).toBe(true);
  });

  it.each([
    ['in an attribute value after one holding ">"', page('<a data-r="p>1" title="@">x</a>')],
    ['in an unquoted attribute value', page('<a title=@>x</a>')],
    ['inside a tag', page('<div @ class="x">')],
    ['in a comment holding ">"', page('<!-- a > b @ --><p>x</p>')],
    ['in an unterminated comment', page('<!-- @')],
    ['in a script after "<" and ">"', page('<script>var a = 1 < 2 && 3 > 1; "@"</script>')],
    ['in a script with "<!--" before its end', page('<script><!-- x</script><p>@</p>')],
    ['in a textarea holding "<" and ">"', page('<textarea>a < b > c @</textarea>')],
    ['in a title', '<html><head><title>@</title></head><body></body></html>'],
    ['in a style', page('<style>p > a { content: "@" }</style>')],
    ['in a noscript', page('<noscript>@</noscript>')],
    ['after plaintext', page('<plaintext>@')],
    ['in a table outside its cells', page('<table><tr>@<td>a</td></tr></table>')],
    ['in a table row after its cells', page('<table><tr><td>a</td>@</tr></table>')],
    ['in a select', page('<select><option>a</option>@</select>')],
    ['in a template', page('<template><p>@</p></template>')],
    ['in an svg', page('<svg><g>@</g></svg>')],
    ['in math', page('<math><mi>@</mi></math>')],
    ['in the head of a page that has a body', '<html><head>@</head><body></body></html>'],
    ['after a "<body" written only in a head script', '<html><head><script>"<body>"</script>@'],
  ])('does not place %s', (_name, html) => {
    expect(at(html)).toBe(false);
  });

  it('answers offsets in increasing order, reading the page once', () => {
    const html = page('<p>a</p><table><tr><td>b</td>X</tr></table><p>c</p>');
    const body = Buffer.from(html, 'latin1');
    const placement = new HtmlPlacement(body);
    expect(placement.placeable(html.indexOf('a</p>'))).toBe(true);
    expect(placement.placeable(html.indexOf('b</td>'))).toBe(true);
    expect(placement.placeable(html.indexOf('X</tr>'))).toBe(false);
    expect(placement.placeable(html.indexOf('c</p>'))).toBe(true);
  });
});
