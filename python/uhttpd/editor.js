/* The console's code editor: a transparent <textarea> (it keeps the text,
   the caret, the selection, undo and the keyboard) over a <pre> showing the
   same text highlighted, with a line-number gutter; both follow the
   textarea's scrolling. The highlighters are small tokenizers whose output
   becomes text nodes and spans: nothing from a file is parsed as markup. */
"use strict";

const CodeEditor = (() => {
const EDITOR_INDENT = '    ';
// Longer texts are shown without colours: highlighting them on every keystroke would lag.
const HIGHLIGHT_MAX = 300000;
// More matches than this are not marked (the count says "10000+").
const FIND_MAX = 10000;

/* Runs fn when the page next paints (at once, on a timer, when the tab is
   hidden: hidden tabs get no animation frames). The terminal paints by it too. */
function nextFrame(fn) {
  (document.hidden ? setTimeout : requestAnimationFrame)(fn);
}

/* ---------------------------------------------------------------- tokenizers
   Each turns a text into [class, text] pairs that cover it exactly; class ''
   is plain text. */

function pushToken(out, cls, text) {
  const last = out[out.length - 1];
  if (last && last[0] === cls && !cls) last[1] += text;
  else out.push([cls, text]);
}

/* A tokenizer from [class, regex] parts tried in order at each position
   ('word' parts are classified by word(text, previous word, source, end)). */
function lexer(parts, word) {
  const re = new RegExp(parts.map(p => '(' + p[1].source + ')').join('|'), 'y');
  return (text, out) => {
    let i = 0, prev = '';
    while (i < text.length) {
      re.lastIndex = i;
      const m = re.exec(text);
      if (!m || !m[0]) { pushToken(out, '', text[i]); i++; continue; }
      let k = 1;
      while (m[k] === undefined) k++;
      let cls = parts[k - 1][0];
      const s = m[0];
      if (cls === 'word') { cls = word(s, prev, text, i + s.length); prev = s; }
      else if (cls !== 'ws') prev = s;
      pushToken(out, cls === 'ws' ? '' : cls, s);
      i += s.length;
    }
    return out;
  };
}
const words = s => new Set(s.split(' '));

const PY_KEYWORDS = words('and as assert async await break class continue def del elif else except finally for from global ' +
  'if import in is lambda nonlocal not or pass raise return try while with yield match case');
const PY_CONSTANTS = words('True False None self cls __name__ __file__');
const PY_BUILTINS = words('print len range int str float bool list dict set tuple bytes bytearray open input type isinstance ' +
  'issubclass super object enumerate zip map filter sorted reversed min max sum abs any all repr hash id iter next getattr ' +
  'setattr hasattr delattr callable format round divmod pow chr ord hex oct bin vars dir globals locals exec eval compile ' +
  'memoryview property staticmethod classmethod slice frozenset Exception BaseException ValueError TypeError KeyError ' +
  'IndexError RuntimeError OSError KeyboardInterrupt StopIteration AttributeError ImportError NotImplementedError ' +
  'ZeroDivisionError NameError MemoryError SystemExit const micropython');
const lexPython = lexer([
  ['com', /#[^\n]*/],
  ['str', /(?:[rRbBuUfF]{1,2})?(?:'''[\s\S]*?(?:'''|$)|"""[\s\S]*?(?:"""|$)|'(?:[^'\\\n]|\\[\s\S])*'?|"(?:[^"\\\n]|\\[\s\S])*"?)/],
  ['dec', /@[A-Za-z_][\w.]*/],
  ['num', /0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?[jJ]?/],
  ['word', /[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*/],
  ['ws', /\s+/],
], (w, prev) => PY_KEYWORDS.has(w) ? 'kw' : prev === 'def' || prev === 'class' ? 'fn'
  : PY_CONSTANTS.has(w) ? 'const' : PY_BUILTINS.has(w) ? 'bi' : '');

const lexJson = lexer([
  ['key', /"(?:[^"\\\n]|\\.)*"(?=\s*:)/],
  ['str', /"(?:[^"\\\n]|\\.)*"?/],
  ['num', /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/],
  ['word', /[A-Za-z_]\w*/],
  ['ws', /\s+/],
], w => (w === 'true' || w === 'false' || w === 'null' ? 'const' : ''));

const JS_KEYWORDS = words('break case catch class const continue debugger default delete do else export extends finally for ' +
  'function if import in instanceof let new return super switch throw try typeof var void while with yield async await of ' +
  'static get set from');
const JS_CONSTANTS = words('true false null undefined NaN Infinity this');
const JS_BUILTINS = words('console document window Math JSON Object Array String Number Boolean Promise Date RegExp Error ' +
  'Map Set Symbol parseInt parseFloat fetch globalThis');
const lexJs = lexer([
  ['com', /\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/],
  ['str', /'(?:[^'\\\n]|\\[\s\S])*'?|"(?:[^"\\\n]|\\[\s\S])*"?|`(?:[^`\\]|\\[\s\S])*`?/],
  ['num', /0[xXoObB][\da-fA-F_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?/],
  ['word', /[A-Za-z_$\u00c0-\uffff][\w$\u00c0-\uffff]*/],
  ['ws', /\s+/],
], (w, prev, text, end) => JS_KEYWORDS.has(w) ? 'kw' : JS_CONSTANTS.has(w) ? 'const'
  : prev === 'function' || prev === 'class' || /^\s*\(/.test(text.slice(end, end + 8)) ? 'fn'
  : JS_BUILTINS.has(w) ? 'bi' : '');

/* CSS: selectors where a block follows, property names before a colon
   inside blocks and media queries. */
function lexCss(text, out) {
  const re = /(\/\*[\s\S]*?(?:\*\/|$))|("(?:[^"\\\n]|\\[\s\S])*"?|'(?:[^'\\\n]|\\[\s\S])*'?)|(@[\w-]+)|(#[\w-]+)|(-?(?:\d+\.?\d*|\.\d+)(?:%|[a-zA-Z]+)?)|(!important)|([\w-]+)|(\s+)|([\s\S])/y;
  const selector = from => { const m = /[;{}]/.exec(text.slice(from, from + 400)); return !!m && m[0] === '{'; };
  let depth = 0, parens = 0, i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text), s = m[0], end = i + s.length;
    const inSelector = !parens && (!depth || selector(end));
    let cls = '';
    if (m[1]) cls = 'com';
    else if (m[2]) cls = 'str';
    else if (m[3] || m[6]) cls = 'kw';
    else if (m[4] || m[5]) cls = inSelector ? 'sel' : 'num';
    else if (m[7]) cls = inSelector ? 'sel' : /^\s*:(?!:)/.test(text.slice(end, end + 40)) ? 'prop' : '';
    else if (s === '{') depth++;
    else if (s === '}') depth = Math.max(0, depth - 1);
    else if (s === '(') parens++;
    else if (s === ')') parens = Math.max(0, parens - 1);
    else if (s === '.' && inSelector) cls = 'sel';
    pushToken(out, cls, s);
    i = end;
  }
  return out;
}

/* HTML: tags, attributes, values, comments, entities; <script> and <style>
   contents through the JavaScript and CSS tokenizers. */
function lexHtml(text, out) {
  const n = text.length;
  const tagName = /<\/?[A-Za-z!?][\w:.-]*/y, attr = /[^\s"'>\/=]+/y, value = /"[^"]*"?|'[^']*'?|[^\s>"']+/y, space = /\s+/y;
  const at = (re, i) => { re.lastIndex = i; const m = re.exec(text); return m ? m[0] : ''; };
  let i = 0;
  while (i < n) {
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4), stop = end < 0 ? n : end + 3;
      pushToken(out, 'com', text.slice(i, stop));
      i = stop;
      continue;
    }
    const name = text[i] === '<' ? at(tagName, i) : '';
    if (name.length > 1) {
      pushToken(out, 'tag', name);
      i += name.length;
      let afterEq = false;
      while (i < n) {
        const c = text[i];
        let s;
        if ((s = at(space, i))) pushToken(out, '', s);
        else if (c === '>' || text.startsWith('/>', i)) { s = c === '>' ? '>' : '/>'; pushToken(out, 'tag', s); i += s.length; break; }
        else if (c === '=') { s = '='; pushToken(out, '', s); afterEq = true; i++; continue; }
        else if (afterEq && (s = at(value, i))) pushToken(out, 'str', s);
        else if ((s = at(attr, i))) pushToken(out, 'attr', s);
        else { s = c; pushToken(out, '', s); }
        afterEq = false;
        i += s.length;
      }
      const lower = name.toLowerCase();
      if (lower === '<script' || lower === '<style') {
        const close = text.toLowerCase().indexOf('</' + lower.slice(1), i), stop = close < 0 ? n : close;
        (lower === '<script' ? lexJs : lexCss)(text.slice(i, stop), out);
        i = stop;
      }
      continue;
    }
    if (text[i] === '&') {
      const ent = /&#?\w+;/y;
      const s = at(ent, i);
      if (s) { pushToken(out, 'num', s); i += s.length; continue; }
    }
    let stop = i + 1;
    while (stop < n && text[stop] !== '<' && text[stop] !== '&') stop++;
    pushToken(out, '', text.slice(i, stop));
    i = stop;
  }
  return out;
}

const LANGUAGES = {
  python: {label: 'Python', lex: lexPython, ext: ['py', 'pyw', 'pyi']},
  json: {label: 'JSON', lex: lexJson, ext: ['json', 'geojson', 'webmanifest']},
  html: {label: 'HTML', lex: lexHtml, ext: ['html', 'htm', 'xml', 'svg']},
  css: {label: 'CSS', lex: lexCss, ext: ['css']},
  js: {label: 'JavaScript', lex: lexJs, ext: ['js', 'mjs', 'cjs']},
  // plain text: not highlighted; a file with no extension is text too
  text: {label: 'Text', lex: null, ext: ('txt md rst csv tsv ini cfg conf toml yaml yml sh bat log c h cpp hpp ino rs go java ' +
    'ts tsx jsx env gitignore properties tpl service').split(' ')},
};
const TEXT_EXT = new Set(Object.values(LANGUAGES).flatMap(lang => lang.ext));

const extOf = name => (/\.([^./]+)$/.exec(name || '') || ['', ''])[1].toLowerCase();

function languageOf(name) {
  const ext = extOf(name);
  for (const [key, lang] of Object.entries(LANGUAGES)) if (lang.ext.includes(ext)) return key;
  return 'text';
}

/* Whether the editor is for a file of this name: one of LANGUAGES' extensions, or none. */
function isTextName(name) {
  const ext = extOf(name);
  return !ext || TEXT_EXT.has(ext);
}

function tokenize(lang, text) {
  const lex = LANGUAGES[lang] && LANGUAGES[lang].lex;
  if (!lex || text.length > HIGHLIGHT_MAX) return [['', text]];
  return lex(text, []);
}

/* Text nodes and spans for the tokens; the ranges in marks (sorted [start,
   end) pairs, search matches) wrapped in <mark>, marks[current] as the
   current one. */
function paintTokens(tokens, marks, current) {
  const frag = document.createDocumentFragment();
  let pos = 0, k = 0;
  for (const [cls, text] of tokens) {
    let start = 0;
    while (start < text.length) {
      const at = pos + start;
      while (k < marks.length && marks[k][1] <= at) k++;
      let end = text.length, inMark = false;
      if (k < marks.length) {
        if (marks[k][0] <= at) { inMark = true; end = Math.min(end, marks[k][1] - pos); }
        else end = Math.min(end, marks[k][0] - pos);
      }
      const piece = text.slice(start, end);
      let node;
      if (cls) { node = document.createElement('span'); node.className = 't-' + cls; node.textContent = piece; }
      else node = document.createTextNode(piece);
      if (inMark) {
        const mark = document.createElement('mark');
        mark.className = k === current ? 'm cur' : 'm';
        mark.append(node);
        node = mark;
      }
      frag.append(node);
      start = end;
    }
    pos += text.length;
  }
  frag.append('\n');            // an empty last line still has its height
  return frag;
}

const escapeRegExp = s => s.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&');
const make = (tag, props) => Object.assign(document.createElement(tag), props || {});

/* ---------------------------------------------------------------- the editor */

class Editor {
  /* host: the element to fill; onChange(): called after every edit. */
  constructor(host, onChange) {
    this.onChange = onChange || (() => {});
    this.lang = 'text';
    this.tokens = null;
    this.marks = [];
    this.current = -1;
    this.lineCount = 0;
    this.queued = false;
    this.tabLeaves = false;

    this.lines = make('pre');
    this.gutter = make('div', {className: 'ed-gutter'});
    this.gutter.setAttribute('aria-hidden', 'true');
    this.gutter.append(this.lines);
    this.hl = make('pre', {className: 'ed-hl'});
    this.hl.setAttribute('aria-hidden', 'true');
    this.ta = make('textarea', {className: 'ed-input', spellcheck: false, wrap: 'off', autocomplete: 'off'});
    this.ta.setAttribute('autocapitalize', 'off');
    this.ta.setAttribute('autocorrect', 'off');
    this.ta.setAttribute('aria-label', 'File contents');
    this.ta.setAttribute('aria-describedby', 'ed-keys-help');
    this.ta.setAttribute('aria-multiline', 'true');
    const body = make('div', {className: 'ed-body'});
    body.append(this.hl, this.ta);

    this.findInput = make('input', {type: 'search', placeholder: 'Find', spellcheck: false});
    this.findInput.setAttribute('aria-label', 'Find in the file');
    this.findCount = make('span', {className: 'count'});
    this.findCount.setAttribute('aria-live', 'polite');
    const button = (text, label, action) => {
      const b = make('button', {type: 'button', textContent: text, title: label});
      b.setAttribute('aria-label', label);
      b.addEventListener('click', action);
      return b;
    };
    this.find = make('div', {className: 'ed-find', hidden: true});
    this.find.setAttribute('role', 'search');
    this.find.append(this.findInput, this.findCount,
      button('\u2191', 'Previous match (Shift-Enter)', () => this.findStep(-1)),
      button('\u2193', 'Next match (Enter)', () => this.findStep(1)),
      button('\u00d7', 'Close the search (Escape)', () => this.closeFind()));

    this.langLabel = make('span');
    this.position = make('span');
    const help = make('span', {id: 'ed-keys-help', className: 'help',
      textContent: 'Tab indents, Shift-Tab dedents; Escape then Tab leaves the editor'});
    const status = make('div', {className: 'ed-status'});
    status.append(this.langLabel, make('span', {className: 'grow'}), help, this.position);

    this.root = make('div', {className: 'ed'});
    this.root.append(this.gutter, body, this.find, status);
    host.append(this.root);

    this.ta.addEventListener('input', () => { this.tokens = null; if (!this.find.hidden) this.search(false); this.schedule(); this.onChange(); });
    this.ta.addEventListener('scroll', () => this.sync());
    for (const type of ['keyup', 'mouseup', 'select', 'focus']) this.ta.addEventListener(type, () => this.showPosition());
    this.ta.addEventListener('keydown', e => this.key(e));
    this.findInput.addEventListener('input', () => this.search(true));
    this.findInput.addEventListener('keydown', e => {
      if (e.key === 'Enter') { e.preventDefault(); this.findStep(e.shiftKey ? -1 : 1); }
      else if (e.key === 'Escape') { e.preventDefault(); this.closeFind(); }
      else if (e.key === 'F3') { e.preventDefault(); this.findStep(e.shiftKey ? -1 : 1); }
    });
    if (window.ResizeObserver) new ResizeObserver(() => this.sync()).observe(this.ta);
  }

  get value() { return this.ta.value; }

  /* Shows text (of the file called name) as a new document: caret at the top, no undo history. */
  setText(text, name) {
    this.ta.value = text;
    this.ta.setSelectionRange(0, 0);
    this.ta.scrollTop = this.ta.scrollLeft = 0;
    this.tokens = null;
    this.setName(name);
    this.closeFind(false);
    this.showPosition();
    this.schedule();
  }

  /* The file's name decides the highlighting (a new name in the same language changes nothing). */
  setName(name) {
    const lang = languageOf(name);
    if (lang === this.lang) return;
    this.lang = lang;
    this.setReadOnly(this.ta.readOnly);
    this.tokens = null;
    this.schedule();
  }

  focus() { this.ta.focus({preventScroll: true}); }

  /* A read-only editor shows, selects and searches, and changes nothing. */
  setReadOnly(readOnly) {
    this.ta.readOnly = readOnly;
    this.langLabel.textContent = LANGUAGES[this.lang].label + (readOnly ? ' \u00b7 read-only' : '');
  }

  schedule() {
    if (this.queued) return;
    this.queued = true;
    nextFrame(() => this.render());
  }

  render() {
    this.queued = false;
    const text = this.ta.value;
    if (!this.tokens) this.tokens = tokenize(this.lang, text);
    this.hl.replaceChildren(paintTokens(this.tokens, this.marks, this.current));
    let count = 1;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
    if (count !== this.lineCount) {
      this.lineCount = count;
      const numbers = new Array(count);
      for (let i = 0; i < count; i++) numbers[i] = i + 1;
      this.lines.textContent = numbers.join('\n') + '\n';
    }
    this.sync();
  }

  /* The highlighted text and the gutter follow the textarea's scrolling. */
  sync() {
    const x = this.ta.scrollLeft, y = this.ta.scrollTop;
    this.hl.style.transform = 'translate(' + -x + 'px,' + -y + 'px)';
    this.lines.style.transform = 'translateY(' + -y + 'px)';
  }

  showPosition() {
    const v = this.ta.value, s = this.ta.selectionStart;
    const start = v.lastIndexOf('\n', s - 1) + 1;
    let line = 1;
    for (let i = v.indexOf('\n'); i >= 0 && i < s; i = v.indexOf('\n', i + 1)) line++;
    this.position.textContent = 'Ln ' + line + ', Col ' + (s - start + 1);
  }

  /* Replaces the selection with text as typing would (the browser's undo keeps it). */
  insert(text) {
    const ta = this.ta;
    ta.focus({preventScroll: true});
    if (!document.execCommand(text ? 'insertText' : 'delete', false, text)) {
      ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
      ta.dispatchEvent(new Event('input', {bubbles: true}));
    }
  }

  key(e) {
    if (e.isComposing || ['Shift', 'Control', 'Alt', 'Meta'].includes(e.key)) return;
    const k = e.key, mod = e.ctrlKey || e.metaKey;
    if (mod && !e.altKey && k.toLowerCase() === 'f') { e.preventDefault(); this.openFind(); return; }
    if (k === 'F3' || (mod && !e.altKey && k.toLowerCase() === 'g')) { e.preventDefault(); this.findStep(e.shiftKey ? -1 : 1); return; }
    if (k === 'Escape') {
      if (!this.find.hidden) { e.preventDefault(); this.closeFind(); }
      else this.tabLeaves = true;     // Escape, then Tab moves the focus on
      return;
    }
    if (k === 'Tab' && !mod && !e.altKey) {
      if (this.tabLeaves) { this.tabLeaves = false; return; }
      e.preventDefault();
      if (!this.ta.readOnly) this.indent(e.shiftKey);
      return;
    }
    this.tabLeaves = false;
    if (this.ta.readOnly || mod || e.altKey) return;
    if (k === 'Enter' && !e.shiftKey) { e.preventDefault(); this.newline(); }
    else if (k === 'Backspace' && this.backToTabStop()) e.preventDefault();
  }

  /* Enter keeps the line's indentation, one level more after a line that opens a block. */
  newline() {
    const v = this.ta.value, s = this.ta.selectionStart;
    const line = v.slice(v.lastIndexOf('\n', s - 1) + 1, s);
    let indent = /^[ \t]*/.exec(line)[0];
    const code = line.trim();
    if (this.lang === 'python' ? !code.startsWith('#') && /:\s*(#.*)?$/.test(code)
      : this.lang !== 'text' && /[{[(]$/.test(code)) indent += EDITOR_INDENT;
    this.insert('\n' + indent);
  }

  /* Tab: the selected lines one level in (or spaces to the next tab stop
     when nothing is selected); Shift-Tab: one level out. */
  indent(dedent) {
    const ta = this.ta, v = ta.value, s = ta.selectionStart, e = ta.selectionEnd;
    if (s === e && !dedent) {
      const column = s - (v.lastIndexOf('\n', s - 1) + 1);
      this.insert(' '.repeat(EDITOR_INDENT.length - column % EDITOR_INDENT.length));
      return;
    }
    const from = v.lastIndexOf('\n', s - 1) + 1;
    let to = v.indexOf('\n', e > s && v[e - 1] === '\n' ? e - 1 : e);
    if (to < 0) to = v.length;
    const before = v.slice(from, to).split('\n');
    const after = before.map(l => dedent ? l.replace(/^(?: {1,4}|\t)/, '') : l.trim() ? EDITOR_INDENT + l : l);
    const block = after.join('\n');
    if (block === v.slice(from, to)) return;
    ta.setSelectionRange(from, to);
    this.insert(block);
    if (s === e) {
      const caret = Math.max(from, s + after[0].length - before[0].length);
      ta.setSelectionRange(caret, caret);
    } else ta.setSelectionRange(from, from + block.length);
    this.showPosition();
  }

  /* Backspace in a line's leading spaces goes back to the previous tab stop. */
  backToTabStop() {
    const ta = this.ta, v = ta.value, s = ta.selectionStart;
    if (s !== ta.selectionEnd) return false;
    const lead = v.slice(v.lastIndexOf('\n', s - 1) + 1, s);
    if (!lead || /[^ ]/.test(lead)) return false;
    const n = (lead.length - 1) % EDITOR_INDENT.length + 1;
    if (n === 1) return false;
    ta.setSelectionRange(s - n, s);
    this.insert('');
    return true;
  }

  /* ------------------------------------------------------------ search */

  openFind() {
    const sel = this.ta.value.slice(this.ta.selectionStart, this.ta.selectionEnd);
    if (sel && !sel.includes('\n')) this.findInput.value = sel;
    this.find.hidden = false;
    this.findInput.focus();
    this.findInput.select();
    this.search(true);
  }

  closeFind(focus = true) {
    this.find.hidden = true;
    this.marks = [];
    this.current = -1;
    this.schedule();
    if (focus) this.focus();
  }

  /* Marks every match of the search text (case-insensitive); with select,
     the first one from the caret on becomes the current one and is selected. */
  search(select) {
    const q = this.findInput.value, v = this.ta.value;
    this.marks = [];
    if (q) {
      const re = new RegExp(escapeRegExp(q), 'gi');
      let m;
      while ((m = re.exec(v)) && this.marks.length < FIND_MAX) {
        if (!m[0]) { re.lastIndex++; continue; }
        this.marks.push([m.index, m.index + m[0].length]);
      }
    }
    this.current = -1;
    if (this.marks.length) {
      const from = select ? this.ta.selectionStart : this.ta.selectionEnd;
      const i = this.marks.findIndex(([start]) => start >= from);
      this.current = i < 0 ? 0 : i;
      if (select) this.selectMatch();
    }
    this.showCount();
    this.schedule();
  }

  findStep(direction) {
    if (this.find.hidden) { this.openFind(); return; }
    if (!this.marks.length) return;
    const n = this.marks.length;
    this.current = this.current < 0 ? 0 : (this.current + direction + n) % n;
    this.selectMatch();
    this.showCount();
    this.schedule();
  }

  selectMatch() {
    const [start, end] = this.marks[this.current];
    this.ta.setSelectionRange(start, end);
    this.reveal(start);
    this.showPosition();
  }

  showCount() {
    const n = this.marks.length;
    this.findCount.textContent = !this.findInput.value ? '' : !n ? 'No matches'
      : (this.current + 1) + ' of ' + n + (n >= FIND_MAX ? '+' : '');
  }

  /* Scrolls so that the character at pos is in view. */
  reveal(pos) {
    const ta = this.ta, v = ta.value, style = getComputedStyle(ta);
    const lineHeight = parseFloat(style.lineHeight) || 20;
    let line = 0;
    for (let i = v.indexOf('\n'); i >= 0 && i < pos; i = v.indexOf('\n', i + 1)) line++;
    const top = line * lineHeight;
    if (top < ta.scrollTop || top + lineHeight > ta.scrollTop + ta.clientHeight - lineHeight)
      ta.scrollTop = Math.max(0, top - ta.clientHeight / 3);
    const column = pos - (v.lastIndexOf('\n', pos - 1) + 1);
    const x = column * (parseFloat(style.fontSize) || 13) * 0.6;
    if (x < ta.scrollLeft || x > ta.scrollLeft + ta.clientWidth - 40) ta.scrollLeft = Math.max(0, x - ta.clientWidth / 3);
    this.sync();
  }
}

Editor.isTextName = isTextName;
Editor.nextFrame = nextFrame;
return Editor;
})();
