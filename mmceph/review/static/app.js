// mmceph review page: worklist, viewer, corrections. No build step, no framework.
// Everything clinical (measurements, classes, withholding) comes from the server
// (mmceph.clinical through /api/measure and /api/landmarks); this file only draws.
'use strict';
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const S = {
  names: [], lines: [], items: [], name: null, rec: null, points: [], version: 0,
  undo: [], redo: [], selected: -1, z: 1, tx: 0, ty: 0, W: 0, H: 0,
  latencies: [], saving: false, dirty: false, measuring: false, measureAgain: false, pointers: new Map(),
};

async function api(method, url, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(url, opt);
  const data = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) { const e = new Error(data.error || r.statusText); e.status = r.status; throw e; }
  return data;
}
const q = (name) => 'name=' + encodeURIComponent(name);
function notice(text) { $('notice').textContent = text || ''; }
function banner(text, withReload) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
  if (withReload) {
    const btn = document.createElement('button');
    btn.textContent = 'Reload this image';
    btn.onclick = () => { banner(''); openImage(S.name); };
    b.appendChild(btn);
  }
}
function fail(err) {
  if (err.status === 409) banner(err.message, true);
  else banner('Not saved: ' + err.message);
}

// ------------------------------------------------------------------ worklist
async function refreshState() {
  const st = await api('GET', 'api/state');
  S.names = st.names || [];
  $('user').textContent = 'reviewer: ' + st.user;
  $('adapt').hidden = !st.can_adapt;
  showProgress(st.progress);
  showAdaptation(st.adaptation);
}
function showProgress(p) {
  if (!p) { $('progress').textContent = ''; return; }
  const busy = p.queued > 0;
  $('progress').textContent = busy
    ? `predicting ${p.done}/${p.total} (${p.loading ? 'loading the model' : p.current || ''})`
    : `predictions: ${p.model}` + (p.error ? ` - last error: ${p.error}` : '');
  document.body.dataset.predicting = busy ? '1' : '0';
}
async function loadWorklist() {
  const data = await api('GET', 'api/worklist');
  S.items = data.items;
  showProgress(data.progress);
  const body = $('worklist').tBodies[0];
  const rows = [];
  for (const it of data.items) {
    const tr = document.createElement('tr');
    tr.dataset.name = it.image;
    tr.dataset.status = it.status;
    const conf = it.min_confidence == null ? '' : it.min_confidence.toFixed(2);
    tr.innerHTML = `<td><img loading="lazy" alt=""></td><td class="nm"></td>` +
      `<td><span class="badge ${it.status}">${it.status}</span></td><td>${conf}</td>` +
      `<td>${it.flagged || ''}</td><td>${it.corrected || ''}</td>`;
    tr.querySelector('img').src = 'api/thumb?' + q(it.image);
    tr.querySelector('.nm').textContent = it.image;
    if (it.reason) tr.title = it.reason;
    tr.onclick = () => { location.hash = '#image=' + encodeURIComponent(it.image); };
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  document.body.dataset.worklist = String(rows.length);
  return data;
}
let poll = null;
function startPolling() {
  if (poll) return;
  poll = setInterval(async () => {
    try {
      if (!$('worklist-view').hidden) {
        const d = await loadWorklist();
        if (!d.progress || d.progress.queued === 0) { clearInterval(poll); poll = null; }
      } else {
        const st = await api('GET', 'api/state');
        showProgress(st.progress); showAdaptation(st.adaptation);
      }
    } catch (e) { notice(e.message); }
  }, 1500);
}

// ------------------------------------------------------------------ viewer
async function openImage(name) {
  const t0 = performance.now();
  let v;
  try { v = await api('GET', 'api/image?' + q(name)); } catch (e) { notice(e.message); showWorklist(); return; }
  S.name = name; S.undo = []; S.redo = []; S.selected = -1;
  $('worklist-view').hidden = true; $('viewer-view').hidden = false;
  const img = $('radiograph');
  img.setAttribute('width', v.record.width); img.setAttribute('height', v.record.height);
  img.setAttribute('href', 'api/pixels?' + q(name));
  document.body.dataset.loaded = '0';
  img.onload = () => {
    document.body.dataset.loaded = '1';
    requestAnimationFrame(() => { S.openMs = performance.now() - t0; });   // click -> drawn
  };
  S.W = v.record.width; S.H = v.record.height;
  applyView(v);
  fit();
  buildPoints();
  renderPoints();
  banner('');
}
function applyView(v) {
  S.rec = v.record; S.version = v.record.version; S.lines = v.lines || [];
  S.points = v.record.landmarks.map((lm) => (lm.position ? lm.position.slice() : null));
  $('title').textContent = S.name;
  const reasons = (v.record.prediction_reasons || []).join('; ');
  $('status').innerHTML = `<span class="badge ${v.status}">${v.status}</span> ` +
    `<span class="muted">model: ${v.record.prediction_status}${reasons ? ' - ' + reasons : ''}` +
    ` &middot; version ${v.record.version}</span>`;
  $('approve').textContent = v.record.approved_by ? `Approved by ${v.record.approved_by}` : 'Approve';
  document.body.dataset.version = String(S.version);
  document.body.dataset.status = v.status;
  renderMeasurements(v.measurements);
  renderLandmarkTable();
  showPlacing();
}
function showWorklist() {
  $('viewer-view').hidden = true; $('worklist-view').hidden = false;
  S.name = null; S.rec = null;
  document.body.dataset.worklist = '';
  document.body.dataset.loaded = '0';
  loadWorklist().then(startPolling).catch((e) => notice(e.message));
}
function route() {
  const m = location.hash.match(/^#image=(.+)$/);
  if (m) openImage(decodeURIComponent(m[1])); else showWorklist();
}

function fit() {
  const r = $('canvas').getBoundingClientRect();
  const z = Math.min(r.width / S.W, r.height / S.H) * 0.98;
  S.z = z; S.tx = (r.width - S.W * z) / 2; S.ty = (r.height - S.H * z) / 2;
  renderTransform();
}
function zoomAt(z, px, py) {
  z = Math.min(Math.max(z, 0.02), 32);
  const ix = (px - S.tx) / S.z, iy = (py - S.ty) / S.z;
  S.z = z; S.tx = px - ix * z; S.ty = py - iy * z;
  renderTransform();
}
function zoomKey(z) {
  const r = $('canvas').getBoundingClientRect();
  let px = r.width / 2, py = r.height / 2;
  const p = S.points[S.selected];
  if (p) { px = S.tx + p[0] * S.z; py = S.ty + p[1] * S.z; }
  zoomAt(z, px, py);
}
function renderTransform() {
  $('scene').setAttribute('transform', `translate(${S.tx} ${S.ty}) scale(${S.z})`);
  $('zoom').textContent = Math.round(S.z * 100) + '%';
  document.body.dataset.zoom = String(S.z);
  renderPoints();
}
function screenToImage(e) {
  const r = $('canvas').getBoundingClientRect();
  return [(e.clientX - r.left - S.tx) / S.z, (e.clientY - r.top - S.ty) / S.z];
}
function clampToImage(p) {
  return [Math.min(Math.max(p[0], -0.5), S.W - 0.5), Math.min(Math.max(p[1], -0.5), S.H - 0.5)];
}

function buildPoints() {
  const g = $('points');
  g.replaceChildren();
  S.rec.landmarks.forEach((lm, k) => {
    const pt = document.createElementNS(SVG, 'g');
    pt.setAttribute('class', 'pt');
    const c = document.createElementNS(SVG, 'circle');
    c.dataset.index = k; c.dataset.name = lm.name;
    c.id = 'lm-' + k;
    const title = document.createElementNS(SVG, 'title');
    c.appendChild(title);
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('class', 'lbl');
    t.textContent = `${k + 1} ${lm.name}`;
    pt.append(c, t);
    c.addEventListener('pointerdown', (e) => startDrag(e, k));
    c.addEventListener('pointerenter', () => { $('hover').textContent = hoverText(k); });
    c.addEventListener('pointerleave', () => { $('hover').textContent = ''; });
    g.appendChild(pt);
  });
}
function hoverText(k) {
  const lm = S.rec.landmarks[k];
  const conf = lm.confidence == null ? '' : ` confidence ${lm.confidence.toFixed(2)}`;
  const flags = lm.flags.length ? ` - flagged: ${lm.flags.join(', ')}` : '';
  return `${k + 1} ${lm.name}${conf}${flags}`;
}
function renderPoints() {
  if (!S.rec) return;
  const r = 6 / S.z, fs = 13 / S.z;
  const groups = $('points').children;
  S.rec.landmarks.forEach((lm, k) => {
    const p = S.points[k], g = groups[k];
    if (!g) return;
    const c = g.firstChild, t = g.lastChild;
    g.style.display = p ? '' : 'none';
    if (!p) return;
    c.setAttribute('cx', p[0]); c.setAttribute('cy', p[1]); c.setAttribute('r', r);
    t.setAttribute('x', p[0] + r * 1.5); t.setAttribute('y', p[1] - r); t.setAttribute('font-size', fs);
    const moved = lm.predicted && (Math.abs(p[0] - lm.predicted[0]) > 1e-6 || Math.abs(p[1] - lm.predicted[1]) > 1e-6);
    const cls = ['lm'];
    if (lm.flags.length) cls.push('flagged');
    if (lm.flags.includes('low_confidence')) cls.push('low');   // the quality gate's flag
    if (moved || (!lm.predicted && p)) cls.push('corrected');
    if (k === S.selected) cls.push('selected');
    c.setAttribute('class', cls.join(' '));
    g.setAttribute('class', 'pt' + (k === S.selected ? ' selected' : ''));
    c.firstChild.textContent = hoverText(k);
  });
  renderLines();
}
function renderLines() {
  const g = $('lines');
  g.replaceChildren();
  if (!$('show-lines').checked) return;
  for (const [i, j] of S.lines) {
    const a = S.points[i], b = S.points[j];
    if (!a || !b) continue;
    const l = document.createElementNS(SVG, 'line');
    l.setAttribute('class', 'ml');
    l.setAttribute('x1', a[0]); l.setAttribute('y1', a[1]);
    l.setAttribute('x2', b[0]); l.setAttribute('y2', b[1]);
    g.appendChild(l);
  }
}
function renderLandmarkTable() {
  const rows = S.rec.landmarks.map((lm, k) => {
    const tr = document.createElement('tr');
    const p = S.points[k];
    const where = p ? `${p[0].toFixed(1)}, ${p[1].toFixed(1)}` : 'not placed';
    const conf = lm.confidence == null ? '' : lm.confidence.toFixed(2);
    const who = lm.corrected_by ? `corrected by ${lm.corrected_by}` : '';
    tr.innerHTML = `<td>${k + 1}</td><td class="n"></td><td>${where}</td><td>${conf}</td>` +
      `<td class="flag"></td><td class="muted">${who}</td>`;
    tr.querySelector('.n').textContent = lm.name;
    tr.querySelector('.flag').textContent = lm.flags.join(', ');
    if (k === S.selected) tr.className = 'selected';
    tr.onclick = () => select(k);
    return tr;
  });
  $('landmarks').tBodies[0].replaceChildren(...rows);
}
function renderMeasurements(m) {
  const body = $('measurements').tBodies[0];
  if (!m) {
    body.innerHTML = '<tr><td colspan="4" class="muted">no ISBI measurements for this landmark set</td></tr>';
    return;
  }
  if (m.error) {
    body.innerHTML = '';
    const tr = document.createElement('tr');
    tr.innerHTML = '<td colspan="4" class="muted"></td>';
    tr.firstChild.textContent = m.error;
    body.appendChild(tr);
    return;
  }
  const rows = [];
  for (const name of Object.keys(m.normal_ranges)) {
    const v = m.values[name], [lo, hi] = m.normal_ranges[name];
    const tr = document.createElement('tr');
    tr.id = 'm-' + name; tr.dataset.name = name;
    if (v) {
      tr.dataset.value = String(v.value); tr.dataset.cls = String(v.cls);
      tr.innerHTML = `<td><b>${name}</b></td><td class="${v.cls === 1 ? '' : 'abnormal'}">` +
        `${v.value.toFixed(2)} ${v.unit}</td><td>${v.cls}</td><td>${lo}&ndash;${hi}</td>`;
      const mean = document.createElement('tr');
      mean.innerHTML = '<td></td><td colspan="3" class="meaning"></td>';
      mean.lastChild.textContent = v.meaning;
      rows.push(tr, mean);
    } else {
      tr.dataset.withheld = '1';
      tr.innerHTML = `<td><b>${name}</b></td><td colspan="3" class="muted"></td>`;
      tr.lastChild.textContent = 'withheld: ' + (m.withheld[name] || '');
      rows.push(tr);
    }
  }
  body.replaceChildren(...rows);
  document.body.dataset.measured = String(Date.now());
}
function showPlacing() {
  const next = S.points.findIndex((p) => !p);
  const el = $('place');
  el.hidden = next < 0;
  if (next >= 0) el.textContent = `Click on the image to place landmark ${next + 1}: ${S.rec.landmarks[next].name}`;
}
function select(k) {
  S.selected = k;
  renderPoints(); renderLandmarkTable();
  $('hover').textContent = k >= 0 ? hoverText(k) : '';
}

// ------------------------------------------------------------------ editing
function snapshot() { return S.points.map((p) => (p ? p.slice() : null)); }
function commit(before) {
  S.undo.push(before); S.redo = [];
  save();
  renderLandmarkTable(); showPlacing();
}
async function save() {
  if (S.saving) { S.dirty = true; return; }
  S.saving = true; document.body.dataset.saving = '1';
  const name = S.name;
  try {
    const v = await api('PUT', 'api/landmarks?' + q(name), { version: S.version, points: snapshot() });
    if (name === S.name) {
      const pending = S.dirty ? snapshot() : null;
      applyView(v);
      if (pending) S.points = pending;
      renderPoints();
    }
  } catch (e) { S.dirty = false; fail(e); }
  S.saving = false;
  if (S.dirty) { S.dirty = false; save(); } else document.body.dataset.saving = '0';
}
async function measureLive() {
  if (S.measuring) { S.measureAgain = true; return; }
  S.measuring = true;
  const t0 = performance.now();
  try {
    const m = await api('POST', 'api/measure?' + q(S.name), { points: snapshot() });
    renderMeasurements(m.measurements);
    requestAnimationFrame(() => S.latencies.push(performance.now() - t0));  // move -> drawn
  } catch (e) { notice(e.message); }
  S.measuring = false;
  if (S.measureAgain) { S.measureAgain = false; measureLive(); }
}
function nudge(dx, dy) {
  const k = S.selected, p = S.points[k];
  if (!p) return;
  const before = snapshot();
  S.points[k] = clampToImage([p[0] + dx, p[1] + dy]);
  renderPoints(); measureLive(); commit(before);
}
function undo() {
  if (!S.undo.length) return;
  S.redo.push(snapshot()); S.points = S.undo.pop();
  renderPoints(); save(); renderLandmarkTable(); showPlacing();
}
function redo() {
  if (!S.redo.length) return;
  S.undo.push(snapshot()); S.points = S.redo.pop();
  renderPoints(); save(); renderLandmarkTable(); showPlacing();
}
function resetSelected() {
  const k = S.selected, lm = S.rec && S.rec.landmarks[k];
  if (!lm || !lm.predicted) return;
  const before = snapshot();
  S.points[k] = lm.predicted.slice();
  renderPoints(); commit(before);
}

function startDrag(e, k) {
  if (e.button !== 0) return;
  e.stopPropagation(); e.preventDefault();
  select(k);
  S.drag = { k, sx: e.clientX, sy: e.clientY, p0: S.points[k].slice(), before: snapshot(), moved: false };
  $('canvas').setPointerCapture(e.pointerId);
}
function pointerDown(e) {
  S.pointers.set(e.pointerId, [e.clientX, e.clientY]);
  $('canvas').setPointerCapture(e.pointerId);
  if (S.pointers.size === 2) { S.pan = null; S.pinch = pinchState(); return; }
  S.pan = { sx: e.clientX, sy: e.clientY, tx: S.tx, ty: S.ty, moved: false };
}
function pinchState() {
  const [a, b] = [...S.pointers.values()];
  return { d: Math.hypot(a[0] - b[0], a[1] - b[1]), z: S.z };
}
function pointerMove(e) {
  if (S.pointers.has(e.pointerId)) S.pointers.set(e.pointerId, [e.clientX, e.clientY]);
  if (S.drag) {
    const d = S.drag;
    const p = clampToImage([d.p0[0] + (e.clientX - d.sx) / S.z, d.p0[1] + (e.clientY - d.sy) / S.z]);
    d.moved = true;
    S.points[d.k] = p;
    renderPoints(); measureLive();
  } else if (S.pinch && S.pointers.size === 2) {
    const [a, b] = [...S.pointers.values()];
    const r = $('canvas').getBoundingClientRect();
    zoomAt(S.pinch.z * Math.hypot(a[0] - b[0], a[1] - b[1]) / S.pinch.d,
      (a[0] + b[0]) / 2 - r.left, (a[1] + b[1]) / 2 - r.top);
  } else if (S.pan) {
    const dx = e.clientX - S.pan.sx, dy = e.clientY - S.pan.sy;
    if (Math.abs(dx) + Math.abs(dy) > 3) S.pan.moved = true;
    S.tx = S.pan.tx + dx; S.ty = S.pan.ty + dy;
    renderTransform();
  }
}
function pointerUp(e) {
  S.pointers.delete(e.pointerId);
  if (S.drag) {
    const d = S.drag; S.drag = null;
    if (d.moved) commit(d.before);
    return;
  }
  if (S.pinch) { if (S.pointers.size < 2) S.pinch = null; return; }
  if (S.pan && !S.pan.moved) {
    const next = S.points.findIndex((p) => !p);
    if (next >= 0) {             // a landmark the model could not place: click to place
      const before = snapshot();
      S.points[next] = clampToImage(screenToImage(e));
      select(next); commit(before); measureLive();
    } else select(-1);
  }
  S.pan = null;
}

async function approve() {
  try {
    applyView(await api('POST', 'api/approve?' + q(S.name), { version: S.version }));
    renderPoints();
    notice('approved ' + S.name);
  } catch (e) { fail(e); }
}
async function exportApproved() {
  try {
    const r = await api('POST', 'api/export');
    notice(`exported ${r.images} approved image(s) to ${r.folder}: ${r.annotations}, ${r.measurements}, ${r.reports.length} printable report(s) (PDF)`);
    document.body.dataset.exported = String(r.images);
  } catch (e) { banner(e.message); }
}
function showAdaptation(a) {
  const el = $('repredict');
  if (!a || a.state === 'idle') { el.hidden = true; return; }
  if (a.state === 'running') notice(`adapting on ${a.images} approved image(s)...`);
  if (a.state === 'failed') notice('adaptation failed: ' + a.error);
  if (a.state === 'done') {
    // kept on screen (the notice line is reused): what the adaptation did on these images
    const c = a.leave_one_out, box = $('adaptation');
    box.textContent = `Adapted model: ${a.checkpoint} (from ${a.images} approved images). ` + (c
      ? `Mean radial error on the approved images, leave-one-out: before ${c.mre_unadapted.toFixed(3)} ${c.unit}, ` +
        `after ${c.mre_adapted.toFixed(3)} ${c.unit} (${c.change >= 0 ? '+' : ''}${c.change.toFixed(3)} ${c.unit}` +
        (c.change > 0 ? '; it does not pay on these images: keep the original model' : '') + ').'
      : 'No before/after check: a landmark is placed on fewer than 3 of the images.') +
      (a.images < 10 ? ' 10 approved images pay best.' : '');
    box.hidden = false;
    notice('adaptation done');
    el.hidden = false;
  }
  document.body.dataset.adaptation = a.state;
}
async function adapt() {
  try { showAdaptation(await api('POST', 'api/adapt')); startPolling(); } catch (e) { banner(e.message); }
}
async function repredict() {
  try {
    const r = await api('POST', 'api/repredict');
    notice(`re-predicting ${r.queued} untouched image(s) with the adapted model`);
    startPolling();
  } catch (e) { banner(e.message); }
}

function applyWindow() {
  $('radiograph').style.filter = `brightness(${$('brightness').value / 100}) contrast(${$('contrast').value / 100})`;
}

function keyDown(e) {
  if ($('viewer-view').hidden || e.target.tagName === 'INPUT') return;
  const step = e.shiftKey ? 10 : 1;
  const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (arrows[e.key]) {
    e.preventDefault();
    const [dx, dy] = arrows[e.key];
    if (S.selected >= 0) nudge(dx * step, dy * step);
    else { S.tx -= dx * 50; S.ty -= dy * 50; renderTransform(); }
  } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
    e.preventDefault(); if (e.shiftKey) redo(); else undo();
  } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'y') {
    e.preventDefault(); redo();
  } else if (e.key === '+' || e.key === '=') zoomKey(S.z * 1.25);
  else if (e.key === '-') zoomKey(S.z / 1.25);
  else if (e.key === '0') fit();
  else if (e.key === '1') zoomKey(1);
  else if (e.key === '2') zoomKey(2);
  else if (e.key === 'Escape') { if (S.selected >= 0) select(-1); else location.hash = ''; }
}

function init() {
  const c = $('canvas');
  c.addEventListener('pointerdown', pointerDown);
  c.addEventListener('pointermove', pointerMove);
  c.addEventListener('pointerup', pointerUp);
  c.addEventListener('pointercancel', pointerUp);
  c.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = c.getBoundingClientRect();
    zoomAt(S.z * Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  document.addEventListener('keydown', keyDown);
  $('back').onclick = () => { location.hash = ''; };
  $('approve').onclick = approve;
  $('undo').onclick = undo; $('redo').onclick = redo; $('reset').onclick = resetSelected;
  $('zoom-fit').onclick = fit; $('zoom-1').onclick = () => zoomKey(1); $('zoom-2').onclick = () => zoomKey(2);
  $('show-lines').onchange = renderLines;
  $('brightness').oninput = applyWindow; $('contrast').oninput = applyWindow;
  $('export').onclick = exportApproved; $('adapt').onclick = adapt; $('repredict').onclick = repredict;
  window.addEventListener('hashchange', route);
  window.addEventListener('resize', () => { if (S.name) fit(); });
  // the token came in the address: the server set a cookie; drop it from the address bar
  if (location.search.includes('token=')) history.replaceState(null, '', location.pathname + location.hash);
  // the worklist does not need the state: both requests at once (an image needs the names)
  const state = refreshState();
  (location.hash.startsWith('#image=') ? state.then(route) : Promise.all([state, route()]))
    .then(() => { if (document.body.dataset.predicting === '1') startPolling(); })
    .catch((e) => banner(e.message));
}
window.mmcephReview = S;      // for the browser tests and the curious
init();
