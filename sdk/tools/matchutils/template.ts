// Label selector values are Go text/template strings evaluated over the request labels upstream
// (sdk/pkg/tools/matchutils: `nodeName: "{{.nodeName}}"`). We implement the part of text/template that
// selectors use, with Go's results:
//
//   {{.key}}            the label's value; a missing key prints "<no value>" (Go's default missingkey)
//   {{index . "key"}}   the label's value; a missing key prints "" (index returns the zero value)
//   {{.}}               the whole map as Go prints it: map[a:1 b:2] (keys sorted)
//   {{/* comment */}}   nothing
//   {{- ...}} / {{... -}}  trim the blanks before / after the action
//
// Anything else (pipelines, functions, if/range, chained fields such as .a.b, an unclosed "{{") is not
// evaluated and the text is returned unchanged. That is also what upstream does when Go fails to parse or
// execute a template, so an unsupported selector simply compares literally.

export const NO_VALUE = '<no value>';

const BLANK = /[ \t\r\n]/;
const FIELD = /^\.([\p{L}_][\p{L}\p{N}_]*)$/u;
const INDEX = /^index\s+\.\s+(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)$/;
const COMMENT = /^\/\*[\s\S]*\*\/$/;

function own(values: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(values, key) ? values[key] : undefined;
}

function unquote(body: string): string | undefined {
  try {
    const s: unknown = JSON.parse(`"${body}"`);
    return typeof s === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The action's output, or undefined when we do not support it. */
function evaluate(action: string, values: Record<string, string>): string | undefined {
  if (COMMENT.test(action)) return '';
  if (action === '.') {
    const keys = Object.keys(values).sort();
    return `map[${keys.map((k) => `${k}:${values[k]}`).join(' ')}]`;
  }
  const field = FIELD.exec(action);
  if (field) return own(values, field[1]!) ?? NO_VALUE;
  const index = INDEX.exec(action);
  if (index) {
    const key = index[1] !== undefined ? unquote(index[1]) : index[2];
    return key === undefined ? undefined : (own(values, key) ?? '');
  }
  return undefined;
}

/** Renders a selector value over the request labels (see the file comment for what is supported). */
export function renderLabelTemplate(text: string, values: Record<string, string>): string {
  if (!text.includes('{{')) return text;
  let out = '';
  let pos = 0;
  for (;;) {
    const open = text.indexOf('{{', pos);
    if (open < 0) return out + text.slice(pos);
    let literal = text.slice(pos, open);
    let start = open + 2;
    if (text[start] === '-' && BLANK.test(text[start + 1] ?? '')) {
      literal = literal.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    const close = text.indexOf('}}', start);
    if (close < 0) return text;
    let end = close;
    let trimAfter = false;
    if (close - 2 >= start && text[close - 1] === '-' && BLANK.test(text[close - 2]!)) {
      end = close - 2;
      trimAfter = true;
    }
    const rendered = evaluate(text.slice(start, end).trim(), values);
    if (rendered === undefined) return text;
    out += literal + rendered;
    pos = close + 2;
    if (trimAfter) while (pos < text.length && BLANK.test(text[pos]!)) pos++;
  }
}
