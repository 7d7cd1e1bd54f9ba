// regctl's web UI. Registry data is only ever inserted as text
// (textContent / text nodes), never as HTML.

const AUTH_KEY = 'regctl.auth';
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

const view = document.getElementById('view');
let info = null;
let renderToken = 0;

class AuthError extends Error {}

// ---- DOM helpers -------------------------------------------------------

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function show(...nodes) {
  view.replaceChildren(...nodes);
}

function setStatus(message, isError) {
  const s = document.getElementById('status');
  s.textContent = message;
  s.className = isError ? 'status error' : 'status';
  s.hidden = !message;
}

function bytes(n) {
  if (n === undefined || n === null) return '…';
  // IEC units, as the command line prints them.
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

function count(n, one, many) {
  return n + ' ' + (n === 1 ? one : many);
}

function shortDigest(d) {
  const i = d.indexOf(':');
  return i < 0 ? d.slice(0, 12) : d.slice(i + 1, i + 13);
}

function when(s) {
  if (!s) return '';
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function repoHref(name) { return '/ui/repo/' + encodeURI(name); }
function imageHref(name, digest) { return '/ui/image/' + encodeURI(name) + '@' + digest; }

function copyLine(text) {
  const code = h('code', { text });
  const button = h('button', {
    type: 'button',
    text: 'Copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch {
        const range = document.createRange();
        range.selectNodeContents(code);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        button.textContent = 'Selected';
      }
    },
  });
  return h('div', { class: 'copy' }, code, button);
}

function kv(entries) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of entries) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(h('dt', { text: k }), h('dd', { class: 'mono', text: v }));
  }
  return dl;
}

// ---- API ---------------------------------------------------------------

function authHeader() {
  return sessionStorage.getItem(AUTH_KEY);
}

function basic(user, password) {
  const raw = new TextEncoder().encode(user + ':' + password);
  let s = '';
  for (const b of raw) s += String.fromCharCode(b);
  return 'Basic ' + btoa(s);
}

async function api(path, opts = {}) {
  const headers = { 'X-Regctl-Request': '1', Accept: 'application/json', ...(opts.headers || {}) };
  const auth = authHeader();
  if (auth) headers.Authorization = auth;
  // credentials 'omit': the browser neither sends credentials it remembers
  // nor pops up its own Basic dialog on a 401; only this page's form signs in.
  const resp = await fetch(path, { method: opts.method || 'GET', headers, credentials: 'omit', cache: 'no-store' });
  if (resp.status === 401) throw new AuthError('authentication required');
  if (!resp.ok) {
    let message = resp.status + ' ' + resp.statusText;
    try {
      const body = await resp.json();
      if (body.errors && body.errors[0]) message = body.errors[0].message || body.errors[0].code;
    } catch { /* not JSON */ }
    const e = new Error(message);
    e.status = resp.status;
    throw e;
  }
  return resp;
}

async function getJSON(path, opts) {
  return (await api(path, opts)).json();
}

async function loadInfo() {
  info = await getJSON('/v2/_regctl/ui/info');
  renderWho();
  return info;
}

function renderWho() {
  const who = document.getElementById('who');
  const parts = [];
  if (info && info.readOnly) parts.push(h('span', { text: 'read-only' }));
  if (info && info.user) {
    parts.push(h('span', { text: info.user }));
    parts.push(h('button', { type: 'button', id: 'logout', text: 'Log out', onclick: logout }));
  }
  who.replaceChildren(...parts);
}

function logout() {
  sessionStorage.removeItem(AUTH_KEY);
  info = null;
  renderWho();
  route();
}

function loginForm(message) {
  const user = h('input', { type: 'text', id: 'login-user', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', id: 'login-password', autocomplete: 'current-password', required: true });
  const error = h('p', { class: 'muted', id: 'login-error', text: message || '' });
  const form = h('form', { class: 'login card', id: 'login' },
    h('h1', { text: 'Sign in' }),
    h('p', { class: 'muted', text: 'This registry asks for a user name and password.' }),
    h('label', {}, 'User ', user),
    h('label', {}, 'Password ', password),
    h('button', { type: 'submit', class: 'primary', text: 'Sign in' }),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(AUTH_KEY, basic(user.value, password.value));
    try {
      await loadInfo();
      route();
    } catch (e) {
      sessionStorage.removeItem(AUTH_KEY);
      error.textContent = e instanceof AuthError ? 'Wrong user name or password.' : String(e.message);
    }
  });
  show(form);
  user.focus();
}

// ---- confirmation ------------------------------------------------------

function confirmAction(title, body, okLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-body').replaceChildren(...body);
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

// ---- pages -------------------------------------------------------------

async function pageRepos(token) {
  const params = new URLSearchParams(location.search);
  const filter = h('input', { type: 'search', id: 'filter', placeholder: 'Filter repositories', value: params.get('q') || '', 'aria-label': 'Filter repositories' });
  const count = h('span', { class: 'muted', id: 'repo-count' });
  const body = h('tbody', { id: 'repo-rows' });
  const more = h('div', { class: 'more' });
  show(
    h('h1', { text: 'Repositories' }),
    h('div', { class: 'toolbar' }, filter, count),
    h('table', { id: 'repos' },
      h('thead', {}, h('tr', {},
        h('th', { text: 'Name' }), h('th', { class: 'num', text: 'Tags' }),
        h('th', { class: 'num', text: 'Size' }), h('th', { class: 'num', text: 'Unique' }),
        h('th', { class: 'num', text: 'Shared' }), h('th', { text: 'Last push' }))),
      body),
    more);

  let shown = [];
  let query = filter.value;
  let seq = 0;
  let polls = 0;

  function row(r) {
    return h('tr', { 'data-repo': r.name },
      h('td', {}, h('a', { href: repoHref(r.name), text: r.name })),
      h('td', { class: 'num', text: r.tags }),
      h('td', { class: 'num', text: r.size ? bytes(r.size.total) : '…' }),
      h('td', { class: 'num', text: r.size ? bytes(r.size.unique) : '…' }),
      h('td', { class: 'num', text: r.size ? bytes(r.size.shared) : '…' }),
      h('td', { text: when(r.lastPush) }));
  }

  async function load(append) {
    const mine = ++seq;
    const q = new URLSearchParams({ q: query, n: append ? '100' : String(Math.max(100, shown.length)) });
    if (append && shown.length) q.set('last', shown[shown.length - 1].name);
    const page = await getJSON('/v2/_regctl/ui/repositories?' + q);
    if (mine !== seq || token !== renderToken) return;
    shown = append ? shown.concat(page.repositories) : page.repositories;
    body.replaceChildren(...shown.map(row));
    count.textContent = page.matching + (page.matching === 1 ? ' repository' : ' repositories');
    more.replaceChildren();
    if (page.next) {
      more.append(h('button', { type: 'button', id: 'more', text: 'Show more', onclick: () => load(true).catch(fail) }));
    }
    if (!shown.length) {
      body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted', text: query ? 'No repository matches.' : 'No repositories yet.' })));
    }
    // Sizes are computed in the background; ask again until they are in.
    if (!page.sizesReady && polls < 30) {
      polls++;
      setTimeout(() => { if (token === renderToken) load(false).catch(() => {}); }, 1000);
    }
  }

  let timer = null;
  const onFilter = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      query = filter.value.trim();
      const url = query ? '/?q=' + encodeURIComponent(query) : '/';
      history.replaceState(null, '', url);
      shown = [];
      load(false).catch(fail);
    }, 150);
  };
  filter.addEventListener('input', onFilter);
  filter.addEventListener('search', onFilter);
  await load(false);
  filter.focus();
}

function groupByDigest(tags) {
  const groups = new Map();
  for (const t of tags) {
    if (!groups.has(t.digest)) groups.set(t.digest, { ...t, tags: [] });
    groups.get(t.digest).tags.push(t.tag);
  }
  return [...groups.values()];
}

async function deleteTag(name, tag, group) {
  const others = group.tags.filter((t) => t !== tag);
  const ok = await confirmAction('Delete tag ' + name + ':' + tag + '?', [
    h('p', { text: 'Only the tag is removed. The manifest ' + shortDigest(group.digest) + ' stays' + (others.length ? ', still tagged ' + others.join(', ') + '.' : ' (untagged) until a garbage collection removes it.') }),
  ], 'Delete tag');
  if (!ok) return;
  try {
    await api('/v2/' + name + '/manifests/' + tag, { method: 'DELETE' });
    setStatus('Deleted tag ' + name + ':' + tag + '.');
    refreshUsage();
  } catch (e) {
    if (e instanceof AuthError) throw e;
    setStatus('Could not delete ' + name + ':' + tag + ': ' + e.message, true);
  }
  route();
}

async function deleteManifest(name, digest, tags, after) {
  const list = tags.length ? h('ul', {}, tags.map((t) => h('li', { class: 'mono', text: name + ':' + t }))) : h('p', { text: 'No tag points at it.' });
  const ok = await confirmAction('Delete manifest ' + shortDigest(digest) + '?', [
    h('p', { class: 'mono', text: digest }),
    h('p', { text: 'These tags go with it:' }),
    list,
  ], 'Delete manifest');
  if (!ok) return;
  try {
    await api('/v2/' + name + '/manifests/' + digest, { method: 'DELETE' });
    // Navigating clears the status line, so it goes first.
    if (after) navigate(after);
    setStatus('Deleted manifest ' + shortDigest(digest) + (tags.length ? ' and its tags ' + tags.join(', ') : '') + '.');
    refreshUsage();
    if (after) return;
  } catch (e) {
    if (e instanceof AuthError) throw e;
    setStatus('Could not delete ' + shortDigest(digest) + ': ' + e.message, true);
  }
  route();
}

function refreshUsage() {
  getJSON('/v2/_regctl/ui/usage?refresh=1').catch(() => {});
}

async function pageRepo(name, token) {
  const detail = await getJSON('/v2/_regctl/ui/repository?name=' + encodeURIComponent(name));
  if (token !== renderToken) return;
  const host = location.host;
  const groups = groupByDigest(detail.tags);
  const canDelete = info && info.deleteEnabled;
  const sizeCells = new Map();
  const body = h('tbody', { id: 'tag-rows' });
  for (const g of groups) {
    const sizeCell = h('td', { class: 'num', text: '…' });
    const uniqueCell = h('td', { class: 'num', text: '…' });
    sizeCells.set(g.digest, [sizeCell, uniqueCell]);
    const chips = g.tags.map((t) => h('span', { class: 'chip', 'data-tag': t },
      h('span', { class: 'mono', text: t }),
      canDelete ? h('button', { type: 'button', class: 'delete-tag', title: 'Delete tag ' + t, 'aria-label': 'Delete tag ' + t, text: '×', onclick: () => deleteTag(name, t, g).catch(fail) }) : null));
    body.append(h('tr', { 'data-digest': g.digest },
      h('td', {}, chips),
      h('td', {}, h('a', { class: 'mono', href: imageHref(name, g.digest), text: shortDigest(g.digest) })),
      h('td', { text: g.platforms.join(', ') || (g.artifactType || '') }),
      h('td', { text: when(g.created) }),
      sizeCell, uniqueCell,
      h('td', {}, canDelete ? h('button', { type: 'button', class: 'delete-manifest', text: 'Delete', onclick: () => deleteManifest(name, g.digest, g.tags).catch(fail) }) : null)));
  }
  if (!groups.length) body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted', text: 'No tags.' })));
  const first = detail.tags[0] ? detail.tags[0].tag : 'latest';
  show(
    h('p', {}, h('a', { href: '/', text: 'Repositories' }), ' / '),
    h('h1', { id: 'repo-name', text: name }),
    h('div', { class: 'card' },
      copyLine('docker pull ' + host + '/' + name + ':' + first),
      copyLine('regctl cp ' + host + '/' + name + ':' + first + ' DEST')),
    h('table', { id: 'tags' },
      h('thead', {}, h('tr', {},
        h('th', { text: 'Tags' }), h('th', { text: 'Digest' }), h('th', { text: 'Platforms' }),
        h('th', { text: 'Created' }), h('th', { class: 'num', text: 'Size' }),
        h('th', { class: 'num', text: 'Frees alone' }), h('th', {}))),
      body));
  // Sizes from the du engine; they arrive after the page is up.
  getJSON('/v2/_regctl/ui/repository-usage?name=' + encodeURIComponent(name)).then((rows) => {
    if (token !== renderToken) return;
    const byDigest = new Map();
    for (const r of rows) {
      const acc = byDigest.get(r.digest) || { total: r.total, unique: 0 };
      acc.unique += r.unique;
      byDigest.set(r.digest, acc);
    }
    for (const [digest, [s, u]] of sizeCells) {
      const v = byDigest.get(digest);
      s.textContent = v ? bytes(v.total) : '';
      u.textContent = v ? bytes(v.unique) : '';
    }
  }).catch(() => {});
}

async function fetchManifest(name, digest) {
  const resp = await api('/v2/' + name + '/manifests/' + digest, { headers: { Accept: MANIFEST_ACCEPT } });
  const text = await resp.text();
  return { manifest: JSON.parse(text), size: new TextEncoder().encode(text).length, type: (resp.headers.get('Content-Type') || '').split(';')[0] };
}

function platformOf(p) {
  if (!p) return '';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

function annotationsTable(a) {
  return kv(Object.entries(a || {}));
}

async function pageImage(name, digest, token) {
  const [{ manifest, size, type }, detail] = await Promise.all([
    fetchManifest(name, digest),
    getJSON('/v2/_regctl/ui/repository?name=' + encodeURIComponent(name)).catch(() => ({ tags: [] })),
  ]);
  if (token !== renderToken) return;
  const mediaType = manifest.mediaType || type;
  const tags = detail.tags.filter((t) => t.digest === digest).map((t) => t.tag);
  const parts = [
    h('p', {}, h('a', { href: '/', text: 'Repositories' }), ' / ', h('a', { href: repoHref(name), text: name }), ' / '),
    h('h1', { id: 'image-title' }, name + '@', h('span', { class: 'mono', text: shortDigest(digest) })),
    h('div', { class: 'card' }, kv([
      ['Digest', digest],
      ['Media type', mediaType],
      ['Artifact type', manifest.artifactType],
      ['Manifest size', bytes(size)],
      ['Tags', tags.join(', ') || '(none)'],
    ]), copyLine('docker pull ' + location.host + '/' + name + '@' + digest)),
  ];
  if (info && info.deleteEnabled) {
    parts.push(h('p', {}, h('button', { type: 'button', class: 'danger', id: 'delete-image', text: 'Delete manifest', onclick: () => deleteManifest(name, digest, tags, repoHref(name)).catch(fail) })));
  }
  if (INDEX_TYPES.has(mediaType) || Array.isArray(manifest.manifests)) {
    parts.push(h('h2', { text: 'Platforms' }), h('table', { id: 'platforms' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Platform' }), h('th', { text: 'Manifest' }), h('th', { text: 'Media type' }), h('th', { class: 'num', text: 'Size' }))),
      h('tbody', {}, (manifest.manifests || []).map((m) => h('tr', {},
        h('td', { text: platformOf(m.platform) || m.artifactType || '' }),
        h('td', {}, h('a', { class: 'mono', href: imageHref(name, m.digest), text: shortDigest(m.digest) })),
        h('td', { class: 'mono', text: m.mediaType }),
        h('td', { class: 'num', text: bytes(m.size) }))))));
  } else {
    const layers = manifest.layers || [];
    const total = layers.reduce((n, l) => n + (l.size || 0), 0);
    const configCard = h('div', { class: 'card', id: 'config' }, h('p', { class: 'muted', text: 'Loading the config…' }));
    parts.push(h('h2', { text: 'Config' }), configCard);
    parts.push(h('h2', { text: 'Layers (' + layers.length + ', ' + bytes(total) + ')' }), h('table', { id: 'layers' },
      h('thead', {}, h('tr', {}, h('th', { text: '#' }), h('th', { text: 'Digest' }), h('th', { text: 'Media type' }), h('th', { class: 'num', text: 'Size' }))),
      h('tbody', {}, layers.map((l, i) => h('tr', {},
        h('td', { text: i + 1 }), h('td', { class: 'mono', title: l.digest, text: shortDigest(l.digest) }),
        h('td', { class: 'mono', text: l.mediaType }), h('td', { class: 'num', text: bytes(l.size) }))))));
    if (manifest.config && manifest.config.digest) {
      loadConfig(name, manifest.config, configCard, token);
    }
  }
  if (manifest.annotations) parts.push(h('h2', { text: 'Annotations' }), h('div', { class: 'card', id: 'annotations' }, annotationsTable(manifest.annotations)));
  const referrers = h('div', { id: 'referrers' }, h('p', { class: 'muted', text: 'Looking for referrers…' }));
  parts.push(h('h2', { text: 'Referrers (signatures, SBOMs, attestations)' }), referrers);
  show(...parts);
  try {
    const index = await getJSON('/v2/' + name + '/referrers/' + digest);
    if (token !== renderToken) return;
    const list = index.manifests || [];
    referrers.replaceChildren(list.length ? h('table', {},
      h('thead', {}, h('tr', {}, h('th', { text: 'Artifact type' }), h('th', { text: 'Digest' }), h('th', { class: 'num', text: 'Size' }), h('th', { text: 'Annotations' }))),
      h('tbody', {}, list.map((r) => h('tr', { 'data-referrer': r.digest },
        h('td', { class: 'mono', text: r.artifactType || r.mediaType }),
        h('td', {}, h('a', { class: 'mono', href: imageHref(name, r.digest), text: shortDigest(r.digest) })),
        h('td', { class: 'num', text: bytes(r.size) }),
        h('td', {}, annotationsTable(r.annotations)))))) : h('p', { class: 'muted', text: 'None.' }));
  } catch (e) {
    if (e instanceof AuthError) throw e;
    referrers.replaceChildren(h('p', { class: 'muted', text: 'Referrers unavailable: ' + e.message }));
  }
}

async function loadConfig(name, desc, card, token) {
  try {
    const config = await getJSON('/v2/' + name + '/blobs/' + desc.digest);
    if (token !== renderToken) return;
    const c = config.config || {};
    const labels = c.Labels || {};
    card.replaceChildren(kv([
      ['Platform', [config.os, config.architecture, config.variant].filter(Boolean).join('/')],
      ['Created', when(config.created)],
      ['Author', config.author],
      ['User', c.User],
      ['Entrypoint', c.Entrypoint ? JSON.stringify(c.Entrypoint) : ''],
      ['Cmd', c.Cmd ? JSON.stringify(c.Cmd) : ''],
      ['Working dir', c.WorkingDir],
      ['Config', desc.digest + ' (' + bytes(desc.size) + ')'],
    ]),
    h('h3', { text: 'Environment' }),
    h('ul', { id: 'env' }, (c.Env || []).map((e) => h('li', { class: 'mono', text: e }))),
    h('h3', { text: 'Labels' }),
    h('div', { id: 'labels' }, Object.keys(labels).length ? kv(Object.entries(labels)) : h('p', { class: 'muted', text: 'None.' })));
  } catch (e) {
    if (e instanceof AuthError) return fail(e);
    card.replaceChildren(h('p', { class: 'muted', text: 'Config unavailable: ' + e.message }));
  }
}

async function pageStorage(token) {
  const usageBody = h('div', { id: 'usage' }, h('p', { class: 'muted', text: 'Computing sizes…' }));
  const gcBox = h('div', { class: 'card', id: 'gc' });
  show(h('h1', { text: 'Storage' }), usageBody, h('h2', { text: 'Garbage collection' }), gcBox);

  async function loadUsage(tries) {
    const u = await getJSON('/v2/_regctl/ui/usage');
    if (token !== renderToken) return;
    if (u.rows.length || u.ready) {
      const max = Math.max(1, ...u.rows.map((r) => r.total));
      usageBody.replaceChildren(
        h('p', { id: 'usage-total' }, 'Referenced by tags: ', h('strong', { text: bytes(u.total || 0) }), ' in ' + u.rows.length + ' repositories', u.ready ? '' : ' (updating…)', u.computedAt ? ' — computed ' + when(u.computedAt) : ''),
        h('table', { id: 'usage-rows' },
          h('thead', {}, h('tr', {}, h('th', { text: 'Repository' }), h('th', { class: 'num', text: 'Tags' }), h('th', { class: 'num', text: 'Total' }), h('th', { class: 'num', text: 'Unique' }), h('th', { class: 'num', text: 'Shared' }), h('th', { text: '' }))),
          h('tbody', {}, u.rows.map((r) => {
            const bar = h('div', { class: 'bar' });
            bar.style.width = Math.round((r.total / max) * 100) + '%';
            return h('tr', { 'data-repo': r.name },
              h('td', {}, h('a', { href: repoHref(r.name), text: r.name })),
              h('td', { class: 'num', text: r.tags }),
              h('td', { class: 'num', text: bytes(r.total) }),
              h('td', { class: 'num', text: bytes(r.unique) }),
              h('td', { class: 'num', text: bytes(r.shared) }),
              h('td', { class: 'barcell' }, bar));
          }))));
    }
    if (u.error) usageBody.append(h('p', { class: 'muted', text: 'Sizes could not be computed: ' + u.error }));
    if (!u.ready && tries < 60) setTimeout(() => loadUsage(tries + 1).catch(() => {}), 1000);
  }

  if (!info || !info.gcAvailable) {
    gcBox.append(h('p', { class: 'muted', id: 'gc-unavailable', text: info && !info.deleteEnabled
      ? 'This registry does not delete (read-only or --no-delete), so it does not collect garbage.'
      : 'Garbage collection is open to loopback clients, or to signed-in users when the server uses --htpasswd.' }));
  } else {
    const untagged = h('input', { type: 'checkbox', id: 'gc-untagged' });
    const minAge = h('input', { type: 'text', id: 'gc-min-age', value: '1h', size: 6, 'aria-label': 'Keep what was written within' });
    const result = h('div', { id: 'gc-result' });
    const run = h('button', { type: 'button', class: 'danger', id: 'gc-run', text: 'Collect garbage', disabled: true });
    const plan = h('button', { type: 'button', class: 'primary', id: 'gc-plan', text: 'Show what would be freed' });
    let planned = null;
    const query = (dry) => new URLSearchParams({ dry_run: String(dry), delete_untagged: String(untagged.checked), min_age: minAge.value.trim() || '1h' });
    const describe = (r) => {
      const s = r.summary;
      return h('div', {},
        h('p', { id: 'gc-summary', text: (s.dryRun ? 'Would remove ' : 'Removed ') + count(s.manifestsRemoved, 'manifest', 'manifests') + ', ' + count(s.blobsRemoved, 'blob', 'blobs') + ', ' + count(s.linksRemoved, 'link', 'links') + ' and ' + count(s.uploadsRemoved, 'upload', 'uploads') + '; ' + (s.dryRun ? 'would free ' : 'freed ') + bytes(s.bytesFreed || 0) + '.' }),
        r.plan.blobs.length ? h('details', {}, h('summary', { text: r.plan.blobs.length + ' blobs' }),
          h('ul', {}, r.plan.blobs.slice(0, 200).map((b) => h('li', { class: 'mono', text: b.digest + ' ' + bytes(b.size) })))) : null,
        r.plan.warnings && r.plan.warnings.length ? h('ul', {}, r.plan.warnings.map((w) => h('li', { text: w }))) : null);
    };
    // One plan at a time (the server runs one collection or plan at once),
    // and only the plan for the options now shown counts.
    let planSeq = 0;
    const invalidate = () => { planned = null; planSeq++; run.disabled = true; };
    untagged.addEventListener('change', invalidate);
    minAge.addEventListener('input', invalidate);
    const showPlan = async () => {
      const mine = ++planSeq;
      plan.disabled = true;
      try {
        const r = await getJSON('/v2/_regctl/gc?' + query(true), { method: 'POST' });
        if (mine !== planSeq || token !== renderToken) return;
        planned = r;
        result.replaceChildren(describe(r));
        run.disabled = false;
      } catch (e) {
        if (e instanceof AuthError) return fail(e);
        result.replaceChildren(h('p', { class: 'muted', text: 'The plan failed: ' + e.message }));
      } finally {
        plan.disabled = false;
      }
    };
    plan.addEventListener('click', showPlan);
    run.addEventListener('click', async () => {
      if (!planned) return;
      const s = planned.summary;
      const ok = await confirmAction('Collect garbage?', [h('p', { text: 'This removes ' + count(s.manifestsRemoved, 'manifest', 'manifests') + ' and ' + count(s.blobsRemoved, 'blob', 'blobs') + ' (' + bytes(s.bytesFreed || 0) + '). It cannot be undone.' })], 'Collect');
      if (!ok) return;
      try {
        const r = await getJSON('/v2/_regctl/gc?' + query(false), { method: 'POST' });
        result.replaceChildren(describe(r));
        setStatus('Garbage collection done: freed ' + bytes(r.summary.bytesFreed || 0) + '.');
        invalidate();
        refreshUsage();
      } catch (e) {
        if (e instanceof AuthError) return fail(e);
        setStatus('Garbage collection failed: ' + e.message, true);
      }
    });
    gcBox.append(
      h('div', { class: 'toolbar' },
        h('label', {}, untagged, ' also remove untagged manifests'),
        h('label', {}, 'keep what was written in the last ', minAge)),
      h('div', { class: 'toolbar' }, plan, run),
      result);
    // What a collection with the default options would free, at once (a
    // dry run changes nothing).
    showPlan();
  }
  await loadUsage(0);
}

// ---- routing -----------------------------------------------------------

function fail(e) {
  if (e instanceof AuthError) {
    loginForm(authHeader() ? 'Wrong user name or password.' : '');
    if (authHeader()) sessionStorage.removeItem(AUTH_KEY);
    return;
  }
  show(h('div', { class: 'card', id: 'error' }, h('h1', { text: 'Something went wrong' }), h('p', { text: e.message || String(e) })));
}

function markNav(which) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === which);
  }
}

async function route() {
  const token = ++renderToken;
  const path = location.pathname;
  try {
    if (!info) await loadInfo();
    if (path === '/' || path === '/ui' || path === '/ui/') {
      markNav('repos');
      document.title = 'Repositories — regctl';
      await pageRepos(token);
    } else if (path.startsWith('/ui/repo/')) {
      markNav('repos');
      const name = decodeURI(path.slice('/ui/repo/'.length));
      document.title = name + ' — regctl';
      await pageRepo(name, token);
    } else if (path.startsWith('/ui/image/')) {
      markNav('repos');
      const ref = decodeURIComponent(path.slice('/ui/image/'.length));
      const at = ref.lastIndexOf('@');
      if (at < 1) throw new Error('expected /ui/image/NAME@DIGEST');
      document.title = ref + ' — regctl';
      await pageImage(ref.slice(0, at), ref.slice(at + 1), token);
    } else if (path === '/ui/storage') {
      markNav('storage');
      document.title = 'Storage — regctl';
      await pageStorage(token);
    } else {
      markNav('');
      show(h('div', { class: 'card' }, h('h1', { text: 'Not found' }), h('p', {}, 'No page here. ', h('a', { href: '/', text: 'See the repositories.' }))));
    }
  } catch (e) {
    if (token === renderToken) fail(e);
  }
}

function navigate(href) {
  history.pushState(null, '', href);
  setStatus('');
  route();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[href]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/ui/'))) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => route());
route();
