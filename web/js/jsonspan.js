// Where a JSON pointer (RFC 6901) points in a JSON text: a small scanner that walks the text to
// the pointed value without building it, so that a form can select, in a pasted document, the
// member a server's error names. Pure: no DOM.

// pointerSpan(text, pointer) → {start, end, line, exact} or null.
// start/end: character offsets of the pointed value in text (end exclusive); line: its 1-based
// line. When the pointer goes deeper than the text (a missing member, an index past the end),
// the span is the deepest value that exists on its way, with exact = false. null when the text
// is not JSON as far as the walk goes, or the pointer is malformed.
export function pointerSpan(text, pointer) {
  if (typeof text !== 'string' || typeof pointer !== 'string') return null;
  if (pointer !== '' && pointer[0] !== '/') return null;
  const tokens = pointer === '' ? [] : pointer.slice(1).split('/').map(unescapeToken);
  try {
    let at = skipWs(text, 0);
    let exact = true;
    for (const token of tokens) {
      const child = findChild(text, at, token);
      if (child < 0) {
        exact = false;
        break;
      }
      at = child;
    }
    const end = skipValue(text, at);
    return { start: at, end, line: lineOf(text, at), exact };
  } catch (e) {
    return null;
  }
}

function unescapeToken(t) {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

function lineOf(text, offset) {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function skipWs(text, i) {
  while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  return i;
}

function fail() {
  throw new Error('not JSON');
}

// The offset of the value of member/element `token` of the container at i, or -1 when the
// container has none (or the value at i is not a container).
function findChild(text, i, token) {
  const open = text[i];
  if (open === '{') {
    i = skipWs(text, i + 1);
    if (text[i] === '}') return -1;
    for (;;) {
      if (text[i] !== '"') fail();
      const keyEnd = skipString(text, i);
      const key = JSON.parse(text.slice(i, keyEnd));
      i = skipWs(text, keyEnd);
      if (text[i] !== ':') fail();
      const value = skipWs(text, i + 1);
      if (key === token) return value;
      i = skipWs(text, skipValue(text, value));
      if (text[i] === ',') i = skipWs(text, i + 1);
      else if (text[i] === '}') return -1;
      else fail();
    }
  }
  if (open === '[') {
    if (!/^(0|[1-9][0-9]*)$/.test(token)) return -1;
    const want = Number(token);
    i = skipWs(text, i + 1);
    if (text[i] === ']') return -1;
    for (let k = 0; ; k++) {
      if (k === want) return i;
      i = skipWs(text, skipValue(text, i));
      if (text[i] === ',') i = skipWs(text, i + 1);
      else if (text[i] === ']') return -1;
      else fail();
    }
  }
  return -1;
}

// The offset just past the string starting at i (text[i] is '"').
function skipString(text, i) {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') j++;
    else if (c === '"') return j + 1;
  }
  return fail();
}

// The offset just past the value starting at i.
function skipValue(text, i) {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    const close = c === '{' ? '}' : ']';
    let j = skipWs(text, i + 1);
    if (text[j] === close) return j + 1;
    for (;;) {
      if (c === '{') {
        if (text[j] !== '"') fail();
        j = skipWs(text, skipString(text, j));
        if (text[j] !== ':') fail();
        j = skipWs(text, j + 1);
      }
      j = skipWs(text, skipValue(text, j));
      if (text[j] === ',') j = skipWs(text, j + 1);
      else if (text[j] === close) return j + 1;
      else fail();
    }
  }
  const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i, i + 400));
  if (!m) fail();
  return i + m[0].length;
}
