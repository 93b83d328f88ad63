/* The uhttpd console page: files, editor, REPL, events and dashboard.

   Whatever a file's name or contents or the server brings goes into the
   page as text (textContent, text nodes, properties): never parsed as
   markup. The page's Content-Security-Policy allows scripts and styles from
   this server's files only. */
"use strict";
const $ = s => document.querySelector(s);
const el = (tag, props, ...kids) => { const e = document.createElement(tag); Object.assign(e, props || {}); e.append(...kids); return e; };
const sleep = ms => new Promise(done => setTimeout(done, ms));
let cfg = {};
try { cfg = JSON.parse($('meta[name="uhttpd-config"]').content || '{}'); } catch (e) { cfg = {}; }
const readOnly = !!cfg.readOnly, replOn = cfg.repl !== false;
const TITLE = (cfg.root ? cfg.root + ' \u2014 ' : '') + 'uhttpd console';
document.title = TITLE;
if (cfg.root) $('#root-name').textContent = cfg.root;
if (readOnly) { document.body.classList.add('ro'); $('#ro-pill').hidden = false; document.querySelectorAll('.write').forEach(e => { e.hidden = true; }); }
const quote = name => '\u201c' + name + '\u201d';

/* ---------------------------------------------------------------- files */
const FS = '/fs';
let cwd = [];              // the current folder, as decoded path segments
let listSeq = 0;
let listing = [];          // the current folder's entries, as the server listed them
const picked = new Set();  // names ticked for "Delete selected"
let sortKey = 'name', sortDir = 1;
const enc = segs => segs.map(encodeURIComponent).join('/');
const dirUrl = segs => FS + '/' + (segs.length ? enc(segs) + '/' : '');
const fileUrl = segs => FS + '/' + enc(segs);
const itemUrl = (segs, dir) => (dir ? dirUrl(segs) : fileUrl(segs));
const shown = segs => '/' + segs.join('/');
const isDir = it => it.type === 'directory';
const sameSegs = (a, b) => a.length === b.length && a.every((s, i) => s === b[i]);
// Opening these in the editor is offered (editor.js knows the text file types); others open in a new tab.
const isTextName = CodeEditor.isTextName;
const EDIT_MAX = 2 * 1024 * 1024;   // bytes: a larger file is not opened in the editor

const REASON = {0: 'No answer', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 507: 'Insufficient Storage'};
const VERB = {list: 'open', open: 'open', upload: 'upload', save: 'save', mkdir: 'create the folder', delete: 'delete', move: 'move'};

/* What a failed operation means to the user; dest: where a move was going. */
function explain(status, op, name, dest) {
  const q = quote(name);
  switch (status) {
    case 0: return 'The server could not be reached. Is it still running?';
    case 401: return 'You are not logged in: the server wants a user name and password. Reload the page to log in again.';
    case 403: return op === 'move' ? 'The server does not allow you to move ' + q + ' to ' + quote(dest) +
        ' (outside the shared files, onto itself, or a name the server keeps for itself).'
      : 'The server does not allow you to ' + VERB[op] + ' ' + q + '.';
    case 404: return op === 'list' ? 'The folder ' + q + ' does not exist (any more).'
      : q + ' was not found: it may have been deleted or moved meanwhile. The list has been refreshed.';
    case 405: return 'The server does not accept changes to files (it runs with --read-only).';
    case 409: return op === 'delete' ? 'The folder ' + q + ' is not empty, so it was not deleted.'
      : op === 'move' ? q + ' cannot go to ' + quote(dest) + ': its folder does not exist, a folder cannot go inside itself, ' +
        'and a folder does not replace a folder that has files in it. Nothing was moved.'
      : q + ' clashes with an existing file or folder of that name.';
    case 412: return op === 'move' ? quote(dest) + ' already exists, so nothing was moved.'
      : q + ' changed on disk meanwhile, so nothing was overwritten.';
    case 413: return q + ' is too large for the server.';
    case 507: return 'The device is out of space: ' + q + ' was not saved and nothing was changed.';
    case 503: return 'The server is busy. Try again in a moment.';
    default: return status >= 500 ? 'The server failed to ' + VERB[op] + ' ' + q + '.'
      : 'The server refused to ' + VERB[op] + ' ' + q + '.';
  }
}
const statusHead = (status, statusText) => status ? status + ' ' + (REASON[status] || statusText || 'Error') : 'Network error';
function showMessage(head, text) {
  const box = $('#fs-error');
  box.querySelector('.msg').replaceChildren(el('strong', {textContent: head}), ' \u2014 ' + text);
  box.hidden = false;
}
function showError(status, op, name, statusText, dest) {
  showMessage(statusHead(status, statusText), explain(status, op, name, dest));
}
function clearError() { $('#fs-error').hidden = true; }
$('#fs-error button').onclick = clearError;

function human(n) {
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + units[i];
}
const two = n => String(n).padStart(2, '0');
function localTime(seconds) {
  const d = new Date(seconds * 1000);
  return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' + two(d.getHours()) + ':' + two(d.getMinutes());
}

function hashSegs() {
  try { return location.hash.replace(/^#/, '').split('/').filter(Boolean).map(decodeURIComponent); }
  catch (e) { return []; }
}
function go(segs) {
  const h = segs.length ? '#/' + enc(segs) + '/' : '';
  if (location.hash === h || (!h && !location.hash)) { cwd = segs; picked.clear(); load(); }
  else location.hash = h;        // hashchange loads it
}
window.addEventListener('hashchange', () => { cwd = hashSegs(); picked.clear(); clearError(); load(); });

function crumbs() {
  const nav = $('#crumbs');
  nav.replaceChildren();
  const link = (text, segs) => {
    const a = el('a', {href: '#' + (segs.length ? '/' + enc(segs) + '/' : '/'), textContent: text});
    a.onclick = ev => { ev.preventDefault(); go(segs); };
    return a;
  };
  nav.append(link('/', []));
  cwd.forEach((s, i) => { if (i) nav.append(el('span', {textContent: '/'})); nav.append(link(s, cwd.slice(0, i + 1))); });
  const zip = $('#zip-link');
  zip.href = dirUrl(cwd) + '?zip';
  zip.title = 'Download ' + shown(cwd) + ' and everything in it as a zip file';
}

async function load() {
  const seq = ++listSeq, segs = cwd.slice();
  crumbs();
  let r;
  try { r = await fetch(dirUrl(segs), {cache: 'no-store', headers: {Accept: 'application/json'}}); }
  catch (e) { if (seq === listSeq) showError(0, 'list', shown(segs)); return; }
  if (seq !== listSeq) return;
  if (!r.ok) { showError(r.status, 'list', shown(segs) + (segs.length ? '/' : ''), r.statusText); listing = []; render(); return; }
  let folder;
  try { folder = await r.json(); } catch (e) { showError(500, 'list', shown(segs)); return; }
  if (seq !== listSeq) return;
  listing = (folder.list || []).filter(x => x.path !== '..' && x.path !== '.');
  for (const name of [...picked]) if (!listing.some(x => x.path === name)) picked.delete(name);
  render();
}

const byName = (a, b) => a.path.localeCompare(b.path, undefined, {numeric: true, sensitivity: 'base'});
/* Folders first; folders have no size of their own, so by size they go by name. */
function sorted(items) {
  const key = {size: it => (isDir(it) ? 0 : it.size || 0), time: it => it.mtime || 0}[sortKey];
  return items.slice().sort((a, b) => (isDir(a) ? 0 : 1) - (isDir(b) ? 0 : 1)
    || (key ? sortDir * (key(a) - key(b)) || byName(a, b) : sortDir * byName(a, b)));
}
function sortBy(key) {
  sortDir = key === sortKey ? -sortDir : key === 'name' ? 1 : -1;   // sizes and times: biggest and newest first
  sortKey = key;
  for (const th of document.querySelectorAll('#list th[data-key]'))
    th.setAttribute('aria-sort', th.dataset.key !== key ? 'none' : sortDir > 0 ? 'ascending' : 'descending');
  render();
}
for (const th of document.querySelectorAll('#list th[data-key]')) {
  const b = th.querySelector('button');
  b.title = 'Sort by ' + b.textContent.toLowerCase();
  b.onclick = () => sortBy(th.dataset.key);
}

function render() {
  const body = $('#list tbody');
  const rows = [];
  const cell = (cls, ...kids) => el('td', {className: cls}, ...kids);
  if (cwd.length) {
    const a = el('a', {href: '#', textContent: '..', title: 'Up to ' + shown(cwd.slice(0, -1))});
    a.onclick = ev => { ev.preventDefault(); go(cwd.slice(0, -1)); };
    rows.push(el('tr', {className: 'parent'}, ...(readOnly ? [] : [cell('sel')]),
      cell('name', el('span', {className: 'nm'}, el('span', {className: 'ico up', textContent: '\u2191'}), a)), cell('size'), cell('time'), cell('act')));
  }
  for (const it of sorted(listing)) {
    const dir = isDir(it), segs = cwd.concat(it.path);
    const text = !dir && isTextName(it.path) && (it.size || 0) <= EDIT_MAX;
    let name;
    if (dir) {
      name = el('a', {href: '#/' + enc(segs) + '/', textContent: it.path, title: 'Open the folder ' + it.path});
      name.onclick = ev => { ev.preventDefault(); go(segs); };
    } else if (text) {
      name = el('a', {href: fileUrl(segs), className: 'text', textContent: it.path, title: 'Edit ' + it.path});
      name.onclick = ev => { if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return; ev.preventDefault(); openFile(segs); };
    } else name = el('a', {href: fileUrl(segs), textContent: it.path, target: '_blank', rel: 'noopener', title: 'Open ' + it.path});
    const act = cell('act');
    if (!dir) act.append(el('a', {className: 'btn sm', href: fileUrl(segs), download: it.path, textContent: 'Download', title: 'Download ' + it.path}));
    const cells = [];
    if (!readOnly) {
      const box = el('input', {type: 'checkbox', checked: picked.has(it.path)});
      box.setAttribute('aria-label', 'Select ' + it.path);
      box.onchange = () => { if (box.checked) picked.add(it.path); else picked.delete(it.path); showPicked(); };
      cells.push(cell('sel', box));
      const ren = el('button', {type: 'button', className: 'sm', textContent: 'Rename', title: 'Rename or move ' + it.path});
      ren.setAttribute('aria-label', 'Rename or move ' + it.path);
      ren.onclick = () => move(it);
      const rm = el('button', {type: 'button', className: 'sm danger', textContent: 'Delete', title: 'Delete ' + it.path});
      rm.setAttribute('aria-label', 'Delete ' + it.path);
      rm.onclick = () => remove(it.path, dir);
      act.append(ren, rm);
    }
    const when = typeof it.mtime === 'number' && it.mtime > 0 ? it.mtime : null;
    const time = cell('time', when ? localTime(when) : '');
    if (when) time.title = new Date(when * 1000).toLocaleString();
    const tr = el('tr', {}, ...cells, cell('name', el('span', {className: 'nm'}, el('span', {className: 'ico ' + (dir ? 'dir' : text ? 'file text' : 'file')}), name)),
      cell('size', dir ? '' : human(it.size || 0)), time, act);
    tr.dataset.name = it.path;
    tr.dataset.type = dir ? 'directory' : 'file';
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  $('#empty').hidden = listing.length > 0;
  showPicked();
}

function showPicked() {
  for (const tr of document.querySelectorAll('#list tbody tr[data-name]')) tr.classList.toggle('picked', picked.has(tr.dataset.name));
  const n = picked.size, all = $('#sel-all');
  const button = $('#delsel-btn');
  button.hidden = readOnly || !n;
  button.textContent = 'Delete selected (' + n + ')';
  all.checked = n > 0 && n === listing.length;
  all.indeterminate = n > 0 && n < listing.length;
}
$('#sel-all').onchange = e => {
  picked.clear();
  if (e.target.checked) for (const it of listing) picked.add(it.path);
  render();
};

let reloadTimer = 0;
function reloadSoon() { clearTimeout(reloadTimer); reloadTimer = setTimeout(load, 150); }

async function send(method, url, headers, body) {
  try {
    const r = await fetch(url, {method, headers: headers || {}, body, cache: 'no-store'});
    return {status: r.status, statusText: r.statusText, headers: r.headers, text: await r.text()};
  } catch (e) { return {status: 0, statusText: '', headers: new Headers(), text: ''}; }
}
const ok = r => r.status >= 200 && r.status <= 299;
/* The server refused an upload or a save whose Content-Digest did not match what arrived. */
const damaged = r => r.status === 400 && /digest/i.test(r.text || '');
const del = (segs, dir, force) => send('DELETE', itemUrl(segs, dir) + (force ? '?force=1' : ''));

async function remove(name, dir) {
  clearError();
  const segs = cwd.concat(name);
  if (!confirm('Delete ' + (dir ? 'the folder ' : '') + quote(name) + '?')) return;
  let r = await del(segs, dir);
  if (r.status === 409 && dir && confirm('The folder ' + quote(name) + ' is not empty.\nDelete it and everything in it?'))
    r = await del(segs, dir, true);
  if (!ok(r)) showError(r.status, 'delete', name, r.statusText);
  picked.delete(name);
  reloadSoon();
}

$('#delsel-btn').onclick = async () => {
  clearError();
  const items = sorted(listing).filter(it => picked.has(it.path));
  if (!items.length) return;
  const names = items.slice(0, 8).map(it => '  ' + it.path + (isDir(it) ? '/' : '')).join('\n') + (items.length > 8 ? '\n  \u2026' : '');
  if (!confirm('Delete the ' + (items.length === 1 ? 'selected item' : items.length + ' selected items') + '?\n' + names)) return;
  const full = [], failed = [];
  for (const it of items) {
    const r = await del(cwd.concat(it.path), isDir(it));
    if (r.status === 409 && isDir(it)) full.push(it);
    else if (!ok(r)) failed.push([it, r]);
  }
  if (full.length) {
    const which = full.length === 1 ? 'The folder ' + quote(full[0].path) + ' is not empty.'
      : full.length + ' of the folders are not empty: ' + full.map(it => quote(it.path)).join(', ') + '.';
    if (confirm(which + '\nDelete ' + (full.length === 1 ? 'it' : 'them') + ' and everything in ' + (full.length === 1 ? 'it' : 'them') + '?')) {
      for (const it of full) {
        const r = await del(cwd.concat(it.path), true, true);
        if (!ok(r)) failed.push([it, r]);
      }
    } else for (const it of full) failed.push([it, {status: 409, statusText: ''}]);
  }
  if (failed.length) {
    const [it, r] = failed[0];
    showError(r.status, 'delete', it.path + (failed.length > 1 ? '\u201d and ' + (failed.length - 1) + ' more \u201c' : ''), r.statusText);
  }
  picked.clear();
  reloadSoon();
};

/* A path typed by the user: from the top folder when it starts with /, else from this folder. */
function typedPath(text) {
  const t = text.trim();
  const segs = t.split('/').filter(Boolean);
  if (!segs.length || segs.some(s => s === '.' || s === '..' || s.includes('\\'))) return null;
  return t.startsWith('/') ? segs : cwd.concat(segs);
}

async function move(it) {
  clearError();
  const dir = isDir(it), from = cwd.concat(it.path);
  const answer = prompt('Rename or move ' + quote(it.path) + ' to (a path from the top folder /):', shown(from) + (dir ? '/' : ''));
  if (answer === null) return;
  const to = typedPath(answer);
  if (!to) { showMessage('Not a path', 'a path is names separated by /, none of them . or .. or with a \\ in it.'); return; }
  if (sameSegs(to, from)) return;
  const source = itemUrl(from, dir), target = itemUrl(to, dir);
  const moveTo = overwrite => send('MOVE', source, {Destination: target, Overwrite: overwrite ? 'T' : 'F'});
  let r = await moveTo(false);
  if (r.status === 412) {
    if (!confirm(quote(shown(to)) + ' already exists.\nReplace it with ' + quote(shown(from)) + '?')) return;
    r = await moveTo(true);
  }
  if (r.status === 201 || r.status === 204) {
    if (doc && doc.segs.length >= from.length && sameSegs(doc.segs.slice(0, from.length), from)) {
      doc.segs = to.concat(doc.segs.slice(from.length));     // the open file moved with it
      showDoc();
    }
  } else showError(r.status, 'move', shown(from), r.statusText, shown(to));
  picked.delete(it.path);
  reloadSoon();
}

/* A single name typed for something new in this folder, or null (and says why). */
function newName(what) {
  const name = (prompt('Name of the new ' + what + ' in ' + shown(cwd) + ':') || '').trim();
  if (!name) return null;
  if (/[\/\\]/.test(name) || name === '.' || name === '..') {
    showMessage('Not a ' + what + ' name', 'a name cannot be . or .. or contain / or \\.');
    return null;
  }
  return name;
}

$('#mkdir-btn').onclick = async () => {
  clearError();
  const name = newName('folder');
  if (!name) return;
  const r = await send('POST', dirUrl(cwd.concat(name)));
  if (!ok(r)) showError(r.status, 'mkdir', name, r.statusText);
  reloadSoon();
};
$('#refresh-btn').onclick = () => { clearError(); load(); };

/* ---------------------------------------------------------------- uploads
   One at a time, each with its own progress bar. A file goes as a PUT with
   Content-Range (so a dropped connection resumes where it stopped) and, in
   a secure context, its SHA-256 in Content-Digest (so it lands only if it
   arrived intact). */
const DIGEST_MAX = 256 * 1024 * 1024;   // bytes hashed before sending (crypto.subtle reads the whole file into memory)
const RESUME_TRIES = 6;                 // connection losses an upload survives
const RETRY_MS = 500;                   // the first wait before resuming; doubled each time
const canDigest = !!(window.isSecureContext && window.crypto && crypto.subtle);
const NO_DIGEST = 'Not verified: the browser computes SHA-256 only for a secure page (at localhost or 127.0.0.1, or over HTTPS), so this upload carries no Content-Digest.';
const queue = [];
let uploading = false;
function enqueue(jobs) {
  if (readOnly) { showError(405, 'upload', jobs.length ? jobs[0].segs.join('/') : ''); return; }
  clearError();
  queue.push(...jobs);
  pump();
}
function pump() {
  if (uploading) return;
  const job = queue.shift();
  if (!job) { reloadSoon(); return; }
  uploading = true;
  upload(job).then(() => { uploading = false; pump(); });
}

async function digestOf(data) {
  const buf = await crypto.subtle.digest('SHA-256', data instanceof Blob ? await data.arrayBuffer() : data);
  let bin = '';
  for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
  return 'sha-256=:' + btoa(bin) + ':';
}
const offsetOf = value => (value !== null && /^\d+$/.test(value) ? Number(value) : null);

/* Sends the file from offset on; resolves to the reply ({status: 0}: the connection dropped). */
function putFrom(url, file, offset, digest, progress) {
  return new Promise(done => {
    const total = file.size, xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    if (total > 0) xhr.setRequestHeader('Content-Range', 'bytes ' + offset + '-' + (total - 1) + '/' + total);
    if (digest) xhr.setRequestHeader('Content-Digest', digest);
    xhr.upload.onprogress = e => progress(offset + e.loaded);
    xhr.onload = () => done({status: xhr.status, statusText: xhr.statusText, text: xhr.responseText,
      offset: offsetOf(xhr.getResponseHeader('Upload-Offset')), digest: xhr.getResponseHeader('Content-Digest')});
    xhr.onerror = xhr.onabort = xhr.ontimeout = () => done({status: 0});
    xhr.send(offset ? file.slice(offset) : file);
  });
}
/* How many bytes of the upload the server holds (null: it did not say). */
async function heldBytes(url, total) {
  const r = await send('PUT', url, {'Content-Range': 'bytes */' + total});
  return r.status === 202 || r.status === 409 ? offsetOf(r.headers.get('Upload-Offset')) : null;
}

async function upload(job) {
  const name = job.segs.slice(job.base).join('/'), file = job.file, total = file.size, url = fileUrl(job.segs);
  const bar = el('progress', {max: 100, value: 0}), pct = el('span', {className: 'p', textContent: '0%'});
  const row = el('div', {className: 'up'}, el('span', {className: 'n', textContent: name, title: name}), bar, pct);
  $('#uploads').append(row);
  const finish = (good, text) => {
    pct.textContent = text;
    row.classList.add(good ? 'done' : 'fail');
    setTimeout(() => row.remove(), good ? 1500 : 6000);
  };
  let digest = null;
  if (!canDigest) row.title = NO_DIGEST;
  else if (total > DIGEST_MAX) row.title = 'Not verified: larger than ' + human(DIGEST_MAX) + ', too large to hash in the browser.';
  else {
    pct.textContent = 'checking\u2026';
    try { digest = await digestOf(file); } catch (e) { row.title = 'Not verified: the browser could not hash it (' + e + ').'; }
  }
  let offset = 0, losses = 0, since = performance.now(), sent = 0, speed = 0;
  const progress = at => {
    const now = performance.now();
    if (now - since >= 250) { speed = (at - sent) / (now - since) / 1000; since = now; sent = at; }
    bar.value = total ? 100 * at / total : 0;
    pct.textContent = Math.floor(bar.value) + '%' + (speed ? ' \u00b7 ' + speed.toFixed(speed < 10 ? 1 : 0) + ' MB/s' : '');
  };
  for (;;) {
    sent = offset; since = performance.now();
    const r = await putFrom(url, file, offset, digest, progress);
    if (ok(r)) {
      bar.value = 100;
      const verified = digest && r.digest === digest;
      if (verified) row.title = 'Verified: the server computed the same SHA-256.';
      finish(true, verified ? 'done \u2713' : 'done');
      return;
    }
    if (r.status === 0 || r.status === 202 || (r.status === 409 && r.offset !== null)) {
      // The connection dropped (or the server holds part of it): ask how
      // much arrived, then send the rest.
      let held = r.status === 0 ? null : r.offset;
      while (held === null && total > 0 && losses < RESUME_TRIES) {
        losses++;
        pct.textContent = 'resuming\u2026';
        await sleep(RETRY_MS * 2 ** (losses - 1));
        held = await heldBytes(url, total);
      }
      if (held !== null && held < total && losses < RESUME_TRIES) {
        if (r.status !== 0) losses++;
        offset = held;
        continue;
      }
      finish(false, 'failed');
      showError(0, 'upload', name);
      return;
    }
    if (damaged(r)) {
      finish(false, 'damaged');
      showMessage(statusHead(400), quote(name) + ' arrived damaged, not saved: the server computed another SHA-256 than this ' +
        'browser did. The file on the device is as it was. Try the upload again.');
      return;
    }
    finish(false, String(r.status));
    showError(r.status, 'upload', name, r.statusText);
    return;
  }
}
$('#upload-btn').onclick = () => $('#file-input').click();
$('#file-input').addEventListener('change', e => {
  const base = cwd.length;
  enqueue([...e.target.files].map(f => ({file: f, segs: cwd.concat(f.name), base})));
  e.target.value = '';
});

/* drag and drop, folders included (PUT makes the parent folders) */
function entryFiles(entry, path, out) {
  if (entry.isFile) return new Promise(res => entry.file(f => { out.push({file: f, segs: path.concat(f.name)}); res(); }, () => res()));
  if (!entry.isDirectory) return Promise.resolve();
  const reader = entry.createReader(), sub = path.concat(entry.name);
  return new Promise(res => {
    const more = () => reader.readEntries(async batch => {
      if (!batch.length) return res();
      for (const e of batch) await entryFiles(e, sub, out);
      more();
    }, () => res());
    more();
  });
}
const panel = $('#files');
let dragDepth = 0;
const hasFiles = e => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
panel.addEventListener('dragenter', e => { if (!hasFiles(e)) return; e.preventDefault(); dragDepth++; if (!readOnly) panel.classList.add('drag'); });
panel.addEventListener('dragover', e => { if (!hasFiles(e)) return; e.preventDefault(); e.dataTransfer.dropEffect = readOnly ? 'none' : 'copy'; });
panel.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; panel.classList.remove('drag'); } });
panel.addEventListener('drop', async e => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth = 0; panel.classList.remove('drag');
  const base = cwd.length, out = [], entries = [];
  for (const item of e.dataTransfer.items || []) {
    const entry = item.kind === 'file' && item.webkitGetAsEntry && item.webkitGetAsEntry();
    if (entry) entries.push(entry);
  }
  if (entries.length) for (const entry of entries) await entryFiles(entry, cwd, out);
  else for (const f of e.dataTransfer.files) out.push({file: f, segs: cwd.concat(f.name)});
  enqueue(out.map(j => Object.assign(j, {base})));
});

/* ---------------------------------------------------------------- editor
   One file at a time. Saving is a PUT with If-Match (the ETag it was
   opened with) so that a file changed on disk meanwhile is never
   overwritten unasked; a new file is saved with If-None-Match: *. */
const editor = new CodeEditor($('#ed-host'), () => showDirty());
editor.setReadOnly(readOnly);
let doc = null;            // {segs, etag, saved: the text on disk, isNew, eol}
let saving = false;
const docName = () => doc ? doc.segs[doc.segs.length - 1] : '';
const isDirty = () => !!doc && (doc.isNew || editor.value !== doc.saved);

function showDirty() {
  const dirty = isDirty();
  $('#ed-dot').hidden = !dirty;
  document.title = (dirty ? '\u25cf ' : '') + (doc ? docName() + ' \u2014 ' : '') + TITLE;
}
function showDoc() {
  const open = !!doc;
  $('#ed-host').hidden = !open;
  $('#ed-empty').hidden = open;
  $('#ed-close').hidden = !open;
  $('#ed-name').textContent = open ? shown(doc.segs) : 'Editor';
  $('#ed-name').title = open ? shown(doc.segs) : '';
  if (open) editor.setName(docName());
  $('#save-btn').disabled = !open || readOnly;
  $('#find-btn').disabled = !open;
  $('#run-btn').disabled = !open || !replOn;
  showDirty();
}
/* A message above the editor: kind 'error', 'warn' or 'info'; actions: [label, function] buttons. */
function edMessage(kind, head, text, actions) {
  const box = $('#ed-msg');
  box.className = 'notice ' + kind;
  box.querySelector('.msg').replaceChildren(...(head ? [el('strong', {textContent: head}), ' \u2014 '] : []), text);
  box.querySelector('.acts').replaceChildren(...(actions || []).map(([label, action]) => {
    const b = el('button', {type: 'button', textContent: label});
    b.onclick = action;
    return b;
  }));
  box.hidden = false;
}
function edError(status, op, name, statusText) {
  edMessage('error', statusHead(status, statusText), explain(status, op, name));
}
function edClear() { $('#ed-msg').hidden = true; }
$('#ed-msg > button.x').onclick = edClear;

/* Fetches a file's text and ETag: {text, etag} or null (after saying why). */
async function fetchText(segs) {
  const name = shown(segs);
  let r;
  try { r = await fetch(fileUrl(segs), {cache: 'no-store'}); }
  catch (e) { edError(0, 'open', name); return null; }
  if (!r.ok) { edError(r.status, 'open', name, r.statusText); if (r.status === 404) reloadSoon(); return null; }
  const buf = await r.arrayBuffer();
  if (buf.byteLength > EDIT_MAX) {
    edMessage('error', 'Too large', quote(name) + ' is ' + human(buf.byteLength) + ': the editor opens files up to ' + human(EDIT_MAX) + '. Download it instead.');
    return null;
  }
  let text;
  try { text = new TextDecoder('utf-8', {fatal: true}).decode(buf); } catch (e) { text = null; }
  if (text === null || text.includes('\0')) {
    edMessage('error', 'Not a text file', quote(name) + ' is not UTF-8 text, so the editor does not open it. Download it instead.');
    return null;
  }
  return {text, etag: r.headers.get('ETag')};
}

function setDoc(segs, text, etag, isNew) {
  editor.setText(text, segs[segs.length - 1]);
  // The textarea keeps line ends as \n; a file written with \r\n is saved so again.
  doc = {segs, etag, saved: editor.value, isNew, eol: text.includes('\r\n') ? '\r\n' : '\n'};
  edClear();
  showDoc();
  editor.focus();
}

async function openFile(segs) {
  if (doc && sameSegs(doc.segs, segs)) { editor.focus(); return; }
  if (isDirty() && !confirm(quote(docName()) + ' has unsaved changes.\nDiscard them and open ' + quote(segs[segs.length - 1]) + '?')) return;
  const got = await fetchText(segs);
  if (got) setDoc(segs, got.text, got.etag, false);
}

$('#newfile-btn').onclick = () => {
  clearError();
  const name = newName('file');
  if (!name) return;
  if (listing.some(it => it.path === name)) {
    showMessage('Already there', quote(name) + ' already exists in this folder: click its name to edit it.');
    return;
  }
  if (isDirty() && !confirm(quote(docName()) + ' has unsaved changes.\nDiscard them and start ' + quote(name) + '?')) return;
  setDoc(cwd.concat(name), '', null, true);
  edMessage('info', '', quote(shown(cwd.concat(name))) + ' is new: it is made on the device when you save it (Ctrl-S).');
};

$('#ed-close').onclick = () => {
  if (isDirty() && !confirm('Close ' + quote(docName()) + ' without saving your changes?')) return;
  doc = null;
  edClear();
  showDoc();
};

/* Writes the editor's text. how: 'checked' (If-Match / If-None-Match),
   'overwrite' (no precondition) or 'copy' (to segs, only if new there). */
async function save(how = 'checked', segs = null) {
  if (!doc || saving || readOnly) return false;
  const target = segs || doc.segs, text = editor.value, name = shown(target);
  const body = new TextEncoder().encode(doc.eol === '\n' ? text : text.replace(/\n/g, doc.eol));
  const headers = {'Content-Type': 'text/plain; charset=utf-8'};
  if (how === 'copy' || (how === 'checked' && doc.isNew)) headers['If-None-Match'] = '*';
  else if (how === 'checked' && doc.etag) headers['If-Match'] = doc.etag;
  saving = true;
  try {
    if (canDigest) headers['Content-Digest'] = await digestOf(body);
    const r = await send('PUT', fileUrl(target), headers, body);     // status 0: no answer
    if (r.status === 412) {
      conflict(how === 'copy' || doc.isNew, target);
      return false;
    }
    if (!ok(r)) {
      if (damaged(r)) edMessage('error', statusHead(r.status, r.statusText), quote(name) + ' arrived damaged, not saved: the file on the device is as it was. Save again.');
      else edError(r.status, 'save', name, r.statusText);
      return false;
    }
    if (doc.isNew || how === 'copy') reloadSoon();
    doc.segs = target;
    doc.saved = text;
    doc.isNew = false;
    doc.etag = r.headers.get('ETag');   // the file as this save wrote it
    edClear();
    showDoc();
    return true;
  } finally { saving = false; }
}

/* The file changed on disk (or, made new, exists already): nothing was written. */
function conflict(exists, target) {
  const name = quote(shown(target));
  edMessage('warn', 'Not saved', exists ? name + ' already exists on disk, so nothing was overwritten: overwrite it or save a copy.'
    : name + ' changed on disk since you opened it \u2014 reload it or save a copy. Nothing was overwritten.', [
    ...(exists ? [] : [['Reload (discard my changes)', reloadDoc]]),
    ['Overwrite', () => { if (confirm('Replace ' + name + ' on disk with your text?\nWhat is in it now is lost.')) save('overwrite', target); }],
    ['Save a copy\u2026', saveCopy],
  ]);
}
async function reloadDoc() {
  if (!doc) return;
  if (isDirty() && !confirm('Discard your changes to ' + quote(docName()) + ' and load it as it is on disk now?')) return;
  const segs = doc.segs, got = await fetchText(segs);
  if (got) setDoc(segs, got.text, got.etag, false);
}
async function saveCopy() {
  if (!doc) return;
  const dot = docName().lastIndexOf('.');
  const suggest = dot > 0 ? docName().slice(0, dot) + '-copy' + docName().slice(dot) : docName() + '-copy';
  const answer = prompt('Save your text as (a path from the top folder /):', shown(doc.segs.slice(0, -1).concat(suggest)));
  if (answer === null) return;
  const segs = typedPath(answer);
  if (!segs) { edMessage('error', 'Not a path', 'a path is names separated by /, none of them . or .. or with a \\ in it.'); return; }
  await save('copy', segs);
}

$('#save-btn').onclick = () => save();
$('#find-btn').onclick = () => editor.openFind();
window.addEventListener('beforeunload', e => { if (isDirty()) { e.preventDefault(); e.returnValue = ''; } });
document.addEventListener('keydown', e => {
  if (e.defaultPrevented || e.isComposing) return;   // the terminal's keys are its own
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 's' && doc) { e.preventDefault(); save(); }
  else if (e.key === 'F5' && !mod && !e.altKey && !e.shiftKey && doc && replOn) { e.preventDefault(); run(); }
});

/* ---------------------------------------------------------------- terminal */
const MAX_LINES = 5000;
const term = {
  lines: [''], row: 0, col: 0, state: 0, params: '', dirty: new Set(), full: true, cursorRow: 0, queued: false,
  write(s) {
    let i = 0;
    const n = s.length;
    while (i < n) {
      if (this.state === 0) {
        const m = /[^\x00-\x1f\x7f]+/y;
        m.lastIndex = i;
        const run = m.exec(s);
        if (run) { this.put(run[0]); i += run[0].length; continue; }
        this.control(s[i++]);
      } else if (this.state === 1) {         // after ESC
        const c = s[i++];
        if (c === '[') { this.state = 2; this.params = ''; }
        else this.state = c === ']' ? 3 : 0;
      } else if (this.state === 2) {         // CSI: parameters, then a final byte
        const c = s[i++], code = c.charCodeAt(0);
        if (code >= 0x40 && code <= 0x7e) { this.csi(c, this.params); this.state = 0; }
        else if (code < 0x20 || code > 0x7e) this.state = 0;
        else this.params += c;
      } else {                               // OSC: skipped up to BEL or ESC
        const c = s[i++];
        if (c === '\x07') this.state = 0;
        else if (c === '\x1b') this.state = 1;
      }
    }
    this.schedule();
  },
  put(text) {
    const line = this.lines[this.row];
    const pad = this.col > line.length ? ' '.repeat(this.col - line.length) : '';
    this.lines[this.row] = line.slice(0, this.col) + pad + text + line.slice(this.col + text.length);
    this.col += text.length;
    this.dirty.add(this.row);
  },
  control(c) {
    switch (c) {
      case '\r': this.col = 0; break;
      case '\n':
        this.dirty.add(this.row);
        this.row++; this.col = 0;
        if (this.row === this.lines.length) this.lines.push('');
        this.dirty.add(this.row);
        if (this.lines.length > MAX_LINES) { const cut = this.lines.length - MAX_LINES + 500; this.lines.splice(0, cut); this.row -= cut; this.full = true; }
        break;
      case '\b': if (this.col > 0) this.col--; break;
      case '\t': this.col = (this.col >> 3 << 3) + 8; if (this.col > this.lines[this.row].length) this.put(''); break;
      case '\x1b': this.state = 1; break;
      default: break;                        // BEL and other controls: nothing to show
    }
  },
  csi(final, params) {
    const n = Math.max(1, parseInt(params, 10) || 1), line = this.lines[this.row];
    switch (final) {
      case 'K': {
        const mode = parseInt(params, 10) || 0;
        if (mode === 0) this.lines[this.row] = line.slice(0, this.col);
        else if (mode === 1) this.lines[this.row] = ' '.repeat(Math.min(this.col + 1, line.length)) + line.slice(this.col + 1);
        else this.lines[this.row] = '';
        this.dirty.add(this.row);
        break;
      }
      case 'D': this.col = Math.max(0, this.col - n); break;
      case 'C': this.col += n; break;
      default: break;                        // colours, cursor positioning, modes: ignored
    }
  },
  note(text) {
    if (this.col > 0 || this.lines[this.row]) this.write('\r\n');
    this.notes = this.notes || new Set();
    this.notes.add(this.row);
    this.write(text + '\r\n');
  },
  clear() { this.lines = ['']; this.row = this.col = 0; this.notes = new Set(); this.full = true; this.schedule(); },
  schedule() {
    if (this.queued) return;
    this.queued = true;
    CodeEditor.nextFrame(() => this.render());
  },
  render() {
    this.queued = false;
    const box = $('#term'), screen = $('#screen');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    this.dirty.add(this.cursorRow); this.dirty.add(this.row);
    if (this.full) { screen.replaceChildren(...this.lines.map(() => el('div'))); this.dirty = new Set(this.lines.keys()); this.full = false; }
    while (screen.children.length < this.lines.length) screen.append(el('div'));
    for (const r of this.dirty) {
      const div = screen.children[r];
      if (!div) continue;
      const line = this.lines[r];
      div.className = this.notes && this.notes.has(r) ? 'note' : '';
      if (r === this.row) {
        const at = line.padEnd(this.col + 1, ' ');
        div.replaceChildren(at.slice(0, this.col), el('span', {className: 'cur', textContent: at[this.col]}), line.slice(this.col + 1));
      } else div.textContent = line;
    }
    this.dirty.clear();
    this.cursorRow = this.row;
    if (atBottom) box.scrollTop = box.scrollHeight;
  },
};

let ws = null;
let loggedIn = false;      // the REPL answered the password with "WebREPL connected"
let heard = '';            // the REPL's last few characters (a reply may come in pieces)
let pendingRun = null;     // a Run waiting for the login
function wsState(text, cls) {
  const p = $('#ws-state');
  p.textContent = text;
  p.className = 'pill ' + (cls || '');
  $('#stop-btn').disabled = !(ws && ws.readyState === WebSocket.OPEN);
}
const wsUrl = () => (location.protocol === 'https:' ? 'wss' : 'ws') + '://' + location.host + '/ws';
function connect() {
  if (ws) { ws.onclose = ws.onmessage = null; ws.close(); ws = null; term.note('[closed]'); }
  const sock = new WebSocket(wsUrl());
  sock.binaryType = 'arraybuffer';
  ws = sock;
  loggedIn = false;
  heard = '';              // what the last session said is no login for this one
  runEcho = null;
  let opened = false;
  wsState('connecting\u2026');
  term.note('[connecting to ' + wsUrl() + ']');
  sock.onopen = () => { opened = true; wsState('connected', 'on'); $('#connect-btn').textContent = 'Reconnect'; focusKeys(); };
  sock.onmessage = e => { if (typeof e.data === 'string') fromRepl(e.data); };   // binary frames: file transfers, not for the terminal
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    loggedIn = false;
    runEcho = null;
    pendingRun = null;
    wsState('disconnected', 'bad');
    $('#connect-btn').textContent = 'Connect';
    term.note(opened ? '[disconnected \u2014 press Connect to log in again]'
      : '[could not open the REPL at ' + wsUrl() + ': the server refused or is unreachable]');
  };
}
function sendKeys(s) {
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(s); return true; }
  return false;
}

/* What the REPL sends: the terminal shows it, less the echo of a Run's text. */
function fromRepl(data) {
  heard = (heard + data).slice(-64);
  if (runEcho) data = hideEcho(data);
  if (data) term.write(data);
  if (/\n>>> $/.test(heard) && $('#ws-state').textContent === 'running') wsState('connected', 'on');
  if (!loggedIn && heard.includes('WebREPL connected')) {
    loggedIn = true;
    if (pendingRun) { const job = pendingRun; pendingRun = null; setTimeout(() => sendRun(job), 0); }
  } else if (!loggedIn && heard.includes('Access denied')) pendingRun = null;
}

/* ---------------------------------------------------------------- run
   As Thonny does over WebREPL: Ctrl-C (stop what runs), Ctrl-E (paste
   mode), the text, Ctrl-D (run it) in the friendly REPL. */
const PASTE_BANNER = '\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ';
const RUN_MAX = 1024 * 1024;     // bytes: the REPL's paste-mode limit
let runEcho = null;              // {text: the echo expected, pos: how much has come, held: what came of it, name}
let echoTimer = 0;

function run() {
  if (!doc) return;
  if (!replOn) { edMessage('info', '', 'The REPL is off on this server (--no-repl): nothing can run.'); return; }
  // The REPL takes printable characters, tabs and line ends in paste mode.
  const text = editor.value.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  if (new TextEncoder().encode(text).length > RUN_MAX) {
    edMessage('error', 'Too long to run', 'the REPL takes programs up to ' + human(RUN_MAX) + ' in paste mode.');
    return;
  }
  const job = {name: shown(doc.segs), text};
  if (ws && ws.readyState === WebSocket.OPEN && loggedIn) { sendRun(job); return; }
  pendingRun = job;
  if (!ws) connect();
  term.note('[' + job.name + ' runs once you are logged in: type the password]');
  focusKeys();
}
function sendRun(job) {
  runEcho = {text: PASTE_BANNER + job.text.split('\n').join('\r\n=== ') + '\r\n', pos: 0, held: '', name: job.name};
  if (!sendKeys('\x03\x05' + job.text.replace(/\n/g, '\r') + '\x04')) runEcho = null;
}
/* Takes the paste-mode echo of a Run out of what the REPL sent (it would
   repeat the whole program); anything else goes through as it came. */
function hideEcho(data) {
  let out = '';
  clearTimeout(echoTimer);
  for (let i = 0; i < data.length; i++) {
    const c = data[i], e = runEcho;
    if (c === e.text[e.pos]) {
      e.held += c;
      e.pos++;
      if (e.pos === PASTE_BANNER.length) {
        term.write(out);
        out = '';
        term.note('[run ' + e.name + ']');
        wsState('running', 'run');
      }
      if (e.pos === e.text.length) { runEcho = null; return out + data.slice(i + 1); }
    } else if (e.pos >= PASTE_BANNER.length) {         // not the echo after all: show it all
      runEcho = null;
      return out + e.held + data.slice(i);
    } else {
      out += e.held;
      e.held = e.text[0] === c ? c : '';
      e.pos = e.held.length;
      if (!e.held) out += c;
    }
  }
  if (runEcho && runEcho.pos && runEcho.pos < PASTE_BANNER.length) {
    // A piece of what looked like the banner: shown if nothing follows soon.
    echoTimer = setTimeout(() => { if (runEcho && runEcho.held) { term.write(runEcho.held); runEcho.held = ''; runEcho.pos = 0; } }, 500);
  }
  return out;
}
$('#run-btn').onclick = run;
$('#stop-btn').onclick = () => { sendKeys('\x03'); };

const KEYS = {Enter: '\r', Backspace: '\x7f', Tab: '\t', Escape: '\x1b', ArrowUp: '\x1b[A', ArrowDown: '\x1b[B',
  ArrowRight: '\x1b[C', ArrowLeft: '\x1b[D', Home: '\x1b[H', End: '\x1b[F', Delete: '\x1b[3~'};
const keys = $('#keys'), wrap = $('#term-wrap');
function focusKeys() { keys.focus({preventScroll: true}); }
function termSelection() {
  const sel = getSelection();
  return sel && !sel.isCollapsed && $('#term').contains(sel.anchorNode) ? sel.toString() : '';
}
wrap.addEventListener('keydown', e => {
  if (e.isComposing || e.metaKey) return;
  const k = e.key;
  if (e.ctrlKey && !e.altKey && k.length === 1) {
    const c = k.toLowerCase();
    if (c === 'v' || (e.shiftKey && c === 'c')) return;          // paste / copy: the browser's own
    if (c === 'c' && termSelection()) return;                     // Ctrl-C with a selection copies it
    if (c >= 'a' && c <= 'z') { e.preventDefault(); sendKeys(String.fromCharCode(c.charCodeAt(0) - 96)); }
    return;
  }
  if (k === 'Enter' && replOn && !ws) { e.preventDefault(); connect(); return; }
  if (k === 'Tab' && e.shiftKey) return;                          // Shift-Tab leaves the terminal
  if (KEYS[k] && !e.altKey && !e.ctrlKey) { e.preventDefault(); sendKeys(KEYS[k]); return; }
  if (!e.ctrlKey && !e.altKey && [...k].length === 1) { e.preventDefault(); sendKeys(k); }
});
keys.addEventListener('input', e => {                             // phone keyboards and dead keys
  if (e.isComposing) return;
  if (keys.value) sendKeys(keys.value.replace(/\r?\n/g, '\r'));
  keys.value = '';
});
keys.addEventListener('compositionend', () => { if (keys.value) sendKeys(keys.value); keys.value = ''; });
wrap.addEventListener('paste', e => {
  const text = e.clipboardData && e.clipboardData.getData('text/plain');
  e.preventDefault();
  if (text) sendKeys(text.replace(/\r\n?|\n/g, '\r'));
});
$('#term').addEventListener('mouseup', () => { if (!termSelection()) focusKeys(); });
$('#connect-btn').onclick = connect;
if (replOn) term.note('WebREPL at ' + wsUrl() + ': press Connect (or Enter here), then type the password.');
else { term.note('The REPL is off on this server (--no-repl).'); $('#connect-btn').disabled = true; }

/* ---------------------------------------------------------------- events */
const MAX_EVENTS = 500;
function addEvent(kind, text) {
  const box = $('#events-box'), list = $('#events');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  $('#events-empty').hidden = true;
  let cls = kind;
  if (/ (WARNING|WARN) /.test(text)) cls += ' warn';
  else if (/ (ERROR|CRITICAL) /.test(text)) cls += ' err';
  list.append(el('li', {className: cls}, el('span', {className: 'k', textContent: kind}), el('span', {className: 't', textContent: text})));
  while (list.children.length > MAX_EVENTS) list.firstChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}
$('#clear-btn').onclick = () => { $('#events').replaceChildren(); $('#events-empty').hidden = false; };
const esState = (text, cls) => { const p = $('#es-state'); p.textContent = 'events: ' + text; p.className = 'pill ' + (cls || ''); };
function listen() {
  const es = new EventSource('/events');
  es.onopen = () => esState('live', 'on');
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) { esState('unavailable, retrying', 'bad'); setTimeout(listen, 5000); }
    else esState('reconnecting\u2026', 'bad');
  };
  es.onmessage = e => addEvent('message', e.data);
  es.addEventListener('log', e => addEvent('log', e.data));
  es.addEventListener('fs', e => {
    let d = null;
    try { d = JSON.parse(e.data); } catch (err) { d = null; }
    const t = new Date().toTimeString().slice(0, 8);
    addEvent('fs', d && d.op ? t + ' ' + d.op + ' ' + d.path + (d.to ? ' \u2192 ' + d.to : '')
      + (d.force ? ' (with everything in it)' : '') : e.data);
    reloadSoon();
  });
  es.addEventListener('stats', e => {
    let s = null;
    try { s = JSON.parse(e.data); } catch (err) { s = null; }
    if (s && typeof s === 'object') stats(s);
  });
}

/* ---------------------------------------------------------------- dashboard
   Fed by the server's "stats" event (once a second): its counters since
   start, turned into rates between two samples. */
const PLOT_SECONDS = 300;
const CLASSES = ['2xx', '3xx', '4xx', '5xx', '1xx'];     // stacked from the bottom
const samples = [];        // {time, rates: {class: requests/s}}
let lastStats = null;
const perSecond = n => (n < 10 ? n.toFixed(1) : String(Math.round(n)));

function stats(s) {
  const time = typeof s.time === 'number' ? s.time : Date.now() / 1000;
  const prev = lastStats;
  lastStats = Object.assign({}, s, {time});
  $('#dash-wait').hidden = true;
  const status = s.status || {};
  let rate = 0, inRate = 0, outRate = 0;
  if (prev && time > prev.time) {
    const dt = time - prev.time, was = prev.status || {}, rates = {};
    for (const c of CLASSES) { rates[c] = Math.max(0, (status[c] || 0) - (was[c] || 0)) / dt; rate += rates[c]; }
    inRate = Math.max(0, (s.bytes_in || 0) - (prev.bytes_in || 0)) / dt;
    outRate = Math.max(0, (s.bytes_out || 0) - (prev.bytes_out || 0)) / dt;
    samples.push({time, rates});
    while (samples.length && samples[0].time < time - PLOT_SECONDS) samples.shift();
  }
  const show = (id, ...parts) => $(id).replaceChildren(...parts);
  const small = text => el('small', {textContent: text});
  show('#g-rps', perSecond(rate));
  show('#g-requests', String(s.requests || 0));
  show('#g-conn', String(s.connections || 0));
  show('#g-events', String(s.event_clients || 0));
  show('#g-repl', s.repl_sessions ? 'open' : 'none');
  show('#g-in', human(Math.round(inRate)) + '/s ', small(human(s.bytes_in || 0)));
  show('#g-out', human(Math.round(outRate)) + '/s ', small(human(s.bytes_out || 0)));
  show('#g-rss', s.rss ? human(s.rss) : 'unknown');
  if (!$('#dash').hidden) plot();
}

/* Requests per second by status class, stacked, the last PLOT_SECONDS. */
function plot() {
  const canvas = $('#plot'), ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  const colour = c => css.getPropertyValue('--c' + c[0]).trim();     // the legend's swatches: var(--c2) for 2xx, ...
  let top = 0;
  for (const p of samples) top = Math.max(top, CLASSES.reduce((sum, c) => sum + p.rates[c], 0));
  const power = 10 ** Math.floor(Math.log10(Math.max(top, 1)));
  const scale = [1, 2, 5, 10].map(m => m * power).find(v => v >= top);      // the top line: 1, 2 or 5 times a power of ten
  const now = samples.length ? samples[samples.length - 1].time : 0;
  const x = t => w - (now - t) / PLOT_SECONDS * w, y = v => h - 1 - v / scale * (h - 6);
  g.strokeStyle = css.getPropertyValue('--line').trim() || '#ccc';
  g.lineWidth = 1;
  for (const v of [scale / 2, scale]) { g.beginPath(); g.moveTo(0, Math.round(y(v)) + 0.5); g.lineTo(w, Math.round(y(v)) + 0.5); g.stroke(); }
  const below = samples.map(() => 0);
  for (const c of CLASSES) {
    if (!samples.some(p => p.rates[c] > 0)) continue;
    const above = samples.map((p, i) => below[i] + p.rates[c]);
    g.beginPath();
    samples.forEach((p, i) => (i ? g.lineTo(x(p.time), y(above[i])) : g.moveTo(x(p.time), y(above[i]))));
    for (let i = samples.length - 1; i >= 0; i--) g.lineTo(x(samples[i].time), y(below[i]));
    g.closePath();
    g.fillStyle = colour(c);
    g.fill();
    above.forEach((v, i) => { below[i] = v; });
  }
  $('#plot-scale').textContent = 'top line ' + scale + ' req/s \u00b7 last 5 min';
}
if (window.ResizeObserver) new ResizeObserver(() => { if (!$('#dash').hidden) plot(); }).observe($('#plot'));

function selectTab(tab) {
  const dash = tab === $('#tab-dash');
  for (const t of document.querySelectorAll('[role=tab]')) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  $('#events-box').hidden = dash;
  $('#dash').hidden = !dash;
  $('#clear-btn').hidden = dash;
  if (dash) plot();
}
for (const t of document.querySelectorAll('[role=tab]')) {
  t.onclick = () => selectTab(t);
  t.onkeydown = e => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    const other = t === $('#tab-dash') ? $('#tab-events') : $('#tab-dash');
    selectTab(other);
    other.focus();
  };
}

cwd = hashSegs();
showDoc();
load();
listen();
