// nabla playground: the page. The server owns the network and trains it; this script sends
// the configuration (also kept in the URL's hash), and draws the frames the server streams.
'use strict';

const FEATURES = [
  ['x1', 'X₁'], ['x2', 'X₂'], ['x1sq', 'X₁²'], ['x2sq', 'X₂²'],
  ['x1x2', 'X₁X₂'], ['sinx1', 'sin(X₁)'], ['sinx2', 'sin(X₂)'],
];
const DATASETS = {
  classification: [['circle', 'Circle'], ['xor', 'Exclusive or'], ['gauss', 'Gaussian'], ['spiral', 'Spiral']],
  regression: [['plane', 'Plane'], ['multigauss', 'Multi Gaussian']],
};
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const SPEEDS = [1, 2, 5, 10, 20, 50];
const DROPOUTS = [0, 0.1, 0.2, 0.3, 0.5];
const MAX_LAYERS = 6;
const MAX_NEURONS = 8;
// The server's defaults (the TensorFlow Playground's); a hash overrides any of them.
const DEFAULTS = {
  dataset: 'circle', problem: 'classification', num_points: 500, train_ratio: 50, noise: 0,
  batch_size: 10, features: ['x1', 'x2'], hidden: [4, 2], dropout: [], activation: 'tanh',
  learning_rate: 0.03, regularization: 'none', reg_rate: 0, optimizer: 'sgd', seed: 1,
  epochs_per_frame: 1,
};
const VIEW_DEFAULTS = { show_test: false, discretize: false };
const EXTENT = 6; // the plane shown is [-6, 6]²
const NODE = 38; // node size in px
const COL_GAP = 96;
const ROW_GAP = 48;
const TOP = 56;

const $ = (id) => document.getElementById(id);
let cfg = structuredClone(DEFAULTS);
let view = { ...VIEW_DEFAULTS };
let sessionId = null;
let events = null;
let state = null; // the last state from the server (config, points, ...)
let lastFrame = null;
let lossHistory = []; // [train, test] per frame with a new epoch
let historyVersion = -1;
let layoutKey = '';
let links = []; // links[layer][out][in] = SVG path
let neuronCanvases = []; // [hidden layer][neuron]
let queue = Promise.resolve(); // requests run one after another
let frameTimes = [];

// ---------- colours ----------

const NEG = [0xf5, 0x93, 0x22];
const MID = [0xe8, 0xea, 0xeb];
const POS = [0x08, 0x77, 0xbd];
const LUT = new Uint8ClampedArray(256 * 3);
for (let q = 0; q < 256; q++) {
  const v = q / 127.5 - 1;
  const [a, t] = v < 0 ? [NEG, -v] : [POS, v];
  for (let c = 0; c < 3; c++) LUT[q * 3 + c] = MID[c] + (a[c] - MID[c]) * t;
}
const colourOf = (v) => {
  const q = Math.round((Math.max(-1, Math.min(1, v)) + 1) * 127.5);
  return `rgb(${LUT[q * 3]},${LUT[q * 3 + 1]},${LUT[q * 3 + 2]})`;
};

/** Paints `bytes` (side × side, one quantized value each) onto a canvas of that size. */
function paint(canvas, bytes, side, discretize) {
  if (canvas.width !== side) { canvas.width = side; canvas.height = side; }
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    let q = bytes[i];
    if (discretize) q = q >= 128 ? 255 : 0;
    img.data[i * 4] = LUT[q * 3];
    img.data[i * 4 + 1] = LUT[q * 3 + 1];
    img.data[i * 4 + 2] = LUT[q * 3 + 2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function decode(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The map of a function over the plane, quantized, scaled by its largest magnitude. */
function planeMap(side, f) {
  const vals = new Float32Array(side * side);
  let max = 1e-9;
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const x = -EXTENT + (c + 0.5) * 2 * EXTENT / side;
      const y = EXTENT - (r + 0.5) * 2 * EXTENT / side;
      const v = f(x, y);
      vals[r * side + c] = v;
      max = Math.max(max, Math.abs(v));
    }
  }
  return Uint8Array.from(vals, (v) => Math.round((v / max + 1) * 127.5));
}

const FEATURE_FN = {
  x1: (x) => x, x2: (x, y) => y, x1sq: (x) => x * x, x2sq: (x, y) => y * y,
  x1x2: (x, y) => x * y, sinx1: (x) => Math.sin(x), sinx2: (x, y) => Math.sin(y),
};
// Sketches of the data sets for their buttons (the real points come from the server).
const DATASET_SKETCH = {
  circle: (x, y) => (Math.hypot(x, y) < 3 ? 1 : -1),
  xor: (x, y) => (x * y >= 0 ? 1 : -1),
  gauss: (x, y) => (Math.hypot(x - 2, y - 2) < Math.hypot(x + 2, y + 2) ? 1 : -1),
  spiral: (x, y) => {
    const r = Math.hypot(x, y);
    const t = Math.atan2(x, y) - r / 5 * 1.75 * 2 * Math.PI;
    return Math.cos(t) > 0 ? 1 : -1;
  },
  plane: (x, y) => (x + y) / 10,
  multigauss: (x, y) => Math.cos(x * 0.8) * Math.sin(y * 0.6),
  custom: (x, y) => Math.sin(x * y / 4),
};

// ---------- the URL ----------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const out = structuredClone(DEFAULTS);
  const v = { ...VIEW_DEFAULTS };
  for (const [key, raw] of params) {
    if (key in VIEW_DEFAULTS) { v[key] = raw === '1' || raw === 'true'; continue; }
    if (!(key in DEFAULTS)) continue;
    const def = DEFAULTS[key];
    if (Array.isArray(def)) {
      const items = raw === '' ? [] : raw.split(',');
      out[key] = key === 'features' ? items : items.map(Number);
    } else if (typeof def === 'number') {
      out[key] = Number(raw);
    } else {
      out[key] = raw;
    }
  }
  return [out, v];
}

function writeHash() {
  const params = new URLSearchParams();
  for (const key of Object.keys(DEFAULTS)) {
    const val = cfg[key];
    params.set(key, Array.isArray(val) ? val.join(',') : String(val));
  }
  for (const key of Object.keys(VIEW_DEFAULTS)) params.set(key, view[key] ? '1' : '0');
  history_replace('#' + params.toString());
}
function history_replace(hash) { window.history.replaceState(null, '', hash); }

// ---------- the server ----------

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    const err = new Error((data && data.error) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function showMessage(text) {
  const m = $('message');
  m.textContent = text || '';
  m.hidden = !text;
}

async function createSession(config) {
  const st = await api('POST', '/api/sessions', config);
  sessionId = st.id;
  $('export').href = `/api/sessions/${sessionId}/checkpoint`;
  applyState(st);
  openEvents();
}

/** A request on the session; a session that expired is created again and the request retried. */
function call(method, action, body) {
  const run = async () => {
    try {
      return applyState(await api(method, `/api/sessions/${sessionId}/${action}`, body));
    } catch (e) {
      if (e.status !== 404) throw e;
      await createSession(cfg);
      return applyState(await api(method, `/api/sessions/${sessionId}/${action}`, body));
    }
  };
  queue = queue.then(run).then(() => showMessage(''), (e) => {
    showMessage(e.message);
    // Show what the server holds (a rejected change left it as it was).
    if (state) applyState(state);
  });
  return queue;
}

const pushConfig = () => call('PUT', 'config', cfg);

function openEvents() {
  if (events) events.close();
  events = new EventSource(`/api/sessions/${sessionId}/events`);
  events.addEventListener('frame', (e) => onFrame(JSON.parse(e.data)));
  events.onerror = () => {
    if (events.readyState !== EventSource.CLOSED) return; // the browser reconnects
    setTimeout(() => queue = queue.then(async () => {
      try { await api('GET', `/api/sessions/${sessionId}`); openEvents(); } catch (_) { await createSession(cfg); }
    }), 1000);
  };
}

// ---------- state → page ----------

function applyState(st) {
  state = st;
  cfg = structuredClone(st.config);
  writeHash();
  syncControls();
  buildNetwork();
  drawHeatmap();
  return st;
}

function fillSelect(id, values, fmt = String) {
  const sel = $(id);
  sel.innerHTML = '';
  for (const v of values) {
    const o = document.createElement('option');
    o.value = String(v);
    o.textContent = fmt(v);
    sel.appendChild(o);
  }
}

/** Selects `value` in a select, adding it as an option if the list lacks it (URL values). */
function selectValue(id, value) {
  const sel = $(id);
  const s = String(value);
  if (![...sel.options].some((o) => o.value === s)) {
    const o = document.createElement('option');
    o.value = s; o.textContent = s;
    sel.appendChild(o);
  }
  sel.value = s;
}

function syncControls() {
  selectValue('learning-rate', cfg.learning_rate);
  selectValue('activation', cfg.activation);
  selectValue('regularization', cfg.regularization);
  selectValue('reg-rate', cfg.reg_rate);
  selectValue('problem', cfg.problem);
  selectValue('optimizer', cfg.optimizer);
  selectValue('speed', cfg.epochs_per_frame);
  $('ratio').value = cfg.train_ratio; $('ratio-value').textContent = cfg.train_ratio;
  $('noise').value = cfg.noise; $('noise-value').textContent = cfg.noise;
  $('batch-size').value = cfg.batch_size; $('batch-size-value').textContent = cfg.batch_size;
  $('show-test').checked = view.show_test;
  $('discretize').checked = view.discretize;
  $('num-layers').textContent = cfg.hidden.length;
  $('add-layer').disabled = cfg.hidden.length >= MAX_LAYERS;
  $('remove-layer').disabled = cfg.hidden.length === 0;
  setPlaying(state ? state.playing : false);
  buildDatasets();
}

function setPlaying(playing) {
  const b = $('play-pause');
  b.textContent = playing ? '❚❚' : '▶';
  b.classList.toggle('playing', playing);
  b.dataset.playing = playing ? '1' : '0';
}

function buildDatasets() {
  const box = $('datasets');
  const list = [...DATASETS[cfg.problem]];
  if (cfg.dataset === 'custom') list.push(['custom', 'Your data']);
  const key = list.map((d) => d[0]).join() + '|' + cfg.dataset;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.innerHTML = '';
  for (const [name, title] of list) {
    const b = document.createElement('button');
    b.id = `dataset-${name}`;
    b.title = title;
    b.classList.toggle('selected', name === cfg.dataset);
    const c = document.createElement('canvas');
    paint(c, planeMap(24, DATASET_SKETCH[name]), 24, false);
    const label = document.createElement('span');
    label.textContent = title;
    b.append(c, label);
    b.addEventListener('click', () => {
      if (name === 'custom' || name === cfg.dataset) return;
      cfg.dataset = name;
      pushConfig();
    });
    box.appendChild(b);
  }
}

// ---------- the network diagram ----------

const colX = (i) => 70 + i * COL_GAP;
const rowY = (j) => TOP + j * ROW_GAP;

function node(x, y, cls) {
  const d = document.createElement('div');
  d.className = `node ${cls}`;
  d.style.left = `${x}px`;
  d.style.top = `${y}px`;
  const c = document.createElement('canvas');
  d.appendChild(c);
  $('network').appendChild(d);
  return [d, c];
}

function smallButton(id, text, title, onClick) {
  const b = document.createElement('button');
  b.id = id; b.textContent = text; b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

function buildNetwork() {
  const key = JSON.stringify([cfg.features, cfg.hidden, cfg.dropout]);
  if (key === layoutKey) return;
  layoutKey = key;
  const net = $('network');
  for (const el of [...net.querySelectorAll('.node, .layer-controls')]) el.remove();
  const svg = $('links');
  svg.innerHTML = '';
  neuronCanvases = [];
  links = [];

  // Column 0: every feature; the chosen ones are fed to the network.
  const inputPos = {};
  FEATURES.forEach(([name, label], j) => {
    const [d, c] = node(colX(0), rowY(j), 'feature');
    d.id = `feature-${name}`;
    d.title = `${label}: click to ${cfg.features.includes(name) ? 'remove' : 'add'}`;
    d.classList.toggle('off', !cfg.features.includes(name));
    const l = document.createElement('span');
    l.className = 'label';
    l.textContent = label;
    d.appendChild(l);
    paint(c, planeMap(25, FEATURE_FN[name]), 25, false);
    d.addEventListener('click', () => toggleFeature(name));
    inputPos[name] = [colX(0) + NODE, rowY(j) + NODE / 2];
  });

  // Hidden layers, each with its +/− and dropout controls.
  let prev = cfg.features.map((f) => inputPos[f]);
  cfg.hidden.forEach((width, i) => {
    const x = colX(i + 1);
    const ctl = document.createElement('div');
    ctl.className = 'layer-controls';
    ctl.style.left = `${x - 24}px`;
    const row = document.createElement('div');
    row.className = 'row';
    row.append(
      smallButton(`layer-${i}-add`, '+', 'Add a neuron', () => setWidth(i, width + 1)),
      smallButton(`layer-${i}-remove`, '−', 'Remove a neuron', () => setWidth(i, width - 1)),
    );
    const count = document.createElement('span');
    count.textContent = `${width} neuron${width === 1 ? '' : 's'}`;
    const drop = document.createElement('select');
    drop.id = `dropout-${i}`;
    drop.title = 'Dropout after this layer';
    for (const p of DROPOUTS) {
      const o = document.createElement('option');
      o.value = String(p); o.textContent = p ? `drop ${p}` : 'no dropout';
      drop.appendChild(o);
    }
    const p = cfg.dropout[i] || 0;
    if (!DROPOUTS.includes(p)) { const o = document.createElement('option'); o.value = String(p); o.textContent = `drop ${p}`; drop.appendChild(o); }
    drop.value = String(p);
    drop.addEventListener('change', () => setDropout(i, Number(drop.value)));
    ctl.append(row, count, drop);
    ctl.style.top = '0px';
    net.appendChild(ctl);

    const here = [];
    const canvases = [];
    for (let j = 0; j < width; j++) {
      const [d, c] = node(x, rowY(j), 'neuron');
      d.id = `neuron-${i}-${j}`;
      canvases.push(c);
      here.push([x, rowY(j) + NODE / 2]);
    }
    neuronCanvases.push(canvases);
    links.push(makeLinks(prev, here));
    prev = here.map(([px, py]) => [px + NODE, py]);
  });

  // The output: one node, whose full picture is the heatmap on the right.
  const ox = colX(cfg.hidden.length + 1);
  const [od, oc] = node(ox, rowY(0), 'output');
  od.id = 'output-node';
  neuronCanvases.push([oc]);
  links.push(makeLinks(prev, [[ox, rowY(0) + NODE / 2]]));

  const rows = Math.max(FEATURES.length, ...cfg.hidden, 1);
  const w = colX(cfg.hidden.length + 1) + NODE + 20;
  const h = rowY(rows) + 10;
  svg.setAttribute('width', w); svg.setAttribute('height', h);
  net.style.height = `${h}px`;
  net.style.width = `${w}px`;
  if (lastFrame) drawFrame(lastFrame);
}

function makeLinks(from, to) {
  const svg = $('links');
  return to.map(([tx, ty]) => from.map(([fx, fy]) => {
    const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    const mx = (fx + tx) / 2;
    p.setAttribute('d', `M${fx},${fy} C${mx},${fy} ${mx},${ty} ${tx},${ty}`);
    p.setAttribute('fill', 'none');
    p.setAttribute('stroke', '#ccc');
    svg.appendChild(p);
    return p;
  }));
}

function toggleFeature(name) {
  const on = new Set(cfg.features);
  if (on.has(name)) {
    if (on.size === 1) { showMessage('The network needs at least one input feature.'); return; }
    on.delete(name);
  } else {
    on.add(name);
  }
  cfg.features = FEATURES.map(([n]) => n).filter((n) => on.has(n));
  pushConfig();
}

function setWidth(i, width) {
  if (width < 1 || width > MAX_NEURONS) return;
  cfg.hidden[i] = width;
  pushConfig();
}

function setDropout(i, p) {
  while (cfg.dropout.length < cfg.hidden.length) cfg.dropout.push(0);
  cfg.dropout[i] = p;
  pushConfig();
}

// ---------- frames ----------

function onFrame(f) {
  lastFrame = f;
  const now = performance.now();
  frameTimes.push(now);
  while (frameTimes.length && now - frameTimes[0] > 2000) frameTimes.shift();
  if (f.network_version !== historyVersion) { lossHistory = []; historyVersion = f.network_version; }
  if (!lossHistory.length || lossHistory[lossHistory.length - 1][2] !== f.epoch) lossHistory.push([f.train_loss, f.test_loss, f.epoch]);
  if (lossHistory.length > 2000) lossHistory = lossHistory.filter((_, i) => i % 2 === 0);
  drawFrame(f);
}

function fmtLoss(v) { return Number.isFinite(v) ? v.toFixed(3) : 'NaN'; }

function drawFrame(f) {
  $('epoch').textContent = String(f.epoch).padStart(6, '0').replace(/(\d{3})(\d{3})$/, '$1,$2');
  $('epoch').dataset.value = f.epoch;
  $('loss-train').textContent = fmtLoss(f.train_loss);
  $('loss-train').dataset.value = f.train_loss;
  $('loss-test').textContent = fmtLoss(f.test_loss);
  $('loss-test').dataset.value = f.test_loss;
  const fps = frameTimes.length > 1 ? (frameTimes.length - 1) * 1000 / (frameTimes[frameTimes.length - 1] - frameTimes[0]) : 0;
  $('fps').textContent = f.playing ? fps.toFixed(0) : '–';
  $('fps').dataset.value = fps;
  setPlaying(f.playing);
  // The frame may describe a network the page has already reconfigured: draw what fits.
  const shapeOk = f.neurons.length === neuronCanvases.length - 1
    && f.neurons.every((l, i) => l.length === neuronCanvases[i].length);
  if (shapeOk) {
    f.neurons.forEach((layer, i) => layer.forEach((b64, j) => paint(neuronCanvases[i][j], decode(b64), f.neuron_grid, false)));
    drawLinks(f);
  }
  const out = decode(f.output);
  paint(neuronCanvases[neuronCanvases.length - 1][0], out, f.grid, view.discretize);
  drawHeatmap(out, f.grid);
  drawChart();
}

function drawLinks(f) {
  if (f.weights.length !== links.length) return;
  f.weights.forEach((w, l) => {
    const rows = links[l];
    const cols = rows.length ? rows[0].length : 0;
    if (w.length !== rows.length * cols) return;
    rows.forEach((row, o) => row.forEach((path, i) => {
      const v = w[o * cols + i];
      path.setAttribute('stroke', colourOf(Math.sign(v) * Math.min(1, 0.3 + Math.abs(v))));
      path.setAttribute('stroke-width', Math.min(8, 0.5 + Math.abs(v) * 2).toFixed(2));
      path.dataset.weight = v;
    }));
  });
}

let lastOutput = null;
function drawHeatmap(bytes, side) {
  if (bytes) lastOutput = [bytes, side];
  const canvas = $('heatmap');
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  ctx.clearRect(0, 0, W, W);
  if (lastOutput) {
    const off = document.createElement('canvas');
    paint(off, lastOutput[0], lastOutput[1], view.discretize);
    ctx.imageSmoothingEnabled = !view.discretize;
    ctx.drawImage(off, 0, 0, W, W);
  }
  if (!state) return;
  const px = (v) => (v + EXTENT) / (2 * EXTENT) * W;
  const py = (v) => (EXTENT - v) / (2 * EXTENT) * W;
  const dot = (xy, t, stroke) => {
    ctx.beginPath();
    ctx.arc(px(xy[0]), py(xy[1]), 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = cfg.problem === 'classification' ? (t > 0 ? 'rgb(8,119,189)' : 'rgb(245,147,34)') : colourOf(t);
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = stroke;
    ctx.stroke();
  };
  const { train, test } = state.data;
  train.xy.forEach((xy, i) => dot(xy, train.target[i], '#fff'));
  if (view.show_test) test.xy.forEach((xy, i) => dot(xy, test.target[i], '#000'));
}

function drawChart() {
  const c = $('loss-chart');
  const ctx = c.getContext('2d');
  ctx.clearRect(0, 0, c.width, c.height);
  if (lossHistory.length < 2) return;
  const finite = lossHistory.flatMap(([a, b]) => [a, b]).filter(Number.isFinite);
  const max = Math.max(1e-6, ...finite);
  for (const [k, colour] of [[0, '#999'], [1, '#000']]) {
    ctx.beginPath();
    lossHistory.forEach((h, i) => {
      const x = i / (lossHistory.length - 1) * c.width;
      const y = c.height - 2 - (Number.isFinite(h[k]) ? h[k] : max) / max * (c.height - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}

// ---------- uploads ----------

/** Rows [x1, x2, target] of a CSV text: three numbers a line; other lines (a header) are skipped. */
function parseCsv(text) {
  const rows = [];
  for (const line of text.split(/\r?\n/)) {
    const cells = line.split(/[,;\t ]+/).filter((s) => s !== '');
    if (cells.length < 3) continue;
    const nums = cells.slice(0, 3).map(Number);
    if (nums.every(Number.isFinite)) rows.push(nums);
  }
  return rows;
}

async function upload(file) {
  const rows = parseCsv(await file.text());
  if (rows.length < 2) { showMessage(`${file.name}: no rows of three numbers found`); return; }
  call('PUT', 'data', { problem: cfg.problem, points: rows });
}

// ---------- wiring ----------

function wire() {
  fillSelect('learning-rate', LEARNING_RATES);
  fillSelect('reg-rate', REG_RATES);
  fillSelect('speed', SPEEDS);
  const onSelect = (id, key, conv = (v) => v) => $(id).addEventListener('change', (e) => {
    cfg[key] = conv(e.target.value);
    pushConfig();
  });
  onSelect('learning-rate', 'learning_rate', Number);
  onSelect('activation', 'activation');
  onSelect('regularization', 'regularization');
  onSelect('reg-rate', 'reg_rate', Number);
  onSelect('optimizer', 'optimizer');
  onSelect('speed', 'epochs_per_frame', Number);
  $('problem').addEventListener('change', (e) => {
    cfg.problem = e.target.value;
    if (cfg.dataset !== 'custom') cfg.dataset = DATASETS[cfg.problem][0][0];
    else showMessage('Upload the data again to use it for this problem type.');
    pushConfig();
  });
  for (const [id, key] of [['ratio', 'train_ratio'], ['noise', 'noise'], ['batch-size', 'batch_size']]) {
    $(id).addEventListener('input', (e) => { $(`${id}-value`).textContent = e.target.value; });
    $(id).addEventListener('change', (e) => { cfg[key] = Number(e.target.value); pushConfig(); });
  }
  $('add-layer').addEventListener('click', () => {
    if (cfg.hidden.length >= MAX_LAYERS) return;
    cfg.hidden.push(2);
    pushConfig();
  });
  $('remove-layer').addEventListener('click', () => {
    if (!cfg.hidden.length) return;
    cfg.hidden.pop();
    cfg.dropout = cfg.dropout.slice(0, cfg.hidden.length);
    pushConfig();
  });
  $('play-pause').addEventListener('click', () => call('POST', $('play-pause').dataset.playing === '1' ? 'pause' : 'play'));
  $('step').addEventListener('click', () => call('POST', 'step'));
  $('reset').addEventListener('click', () => call('POST', 'reset'));
  $('regenerate').addEventListener('click', () => call('POST', 'regenerate'));
  $('show-test').addEventListener('change', (e) => { view.show_test = e.target.checked; writeHash(); drawHeatmap(); });
  $('discretize').addEventListener('change', (e) => {
    view.discretize = e.target.checked;
    writeHash();
    if (lastFrame) drawFrame(lastFrame); else drawHeatmap();
  });
  $('upload').addEventListener('change', (e) => { if (e.target.files[0]) upload(e.target.files[0]); e.target.value = ''; });
  const scale = $('colour-scale');
  const ctx = scale.getContext('2d');
  for (let x = 0; x < 200; x++) { ctx.fillStyle = colourOf(x / 99.5 - 1); ctx.fillRect(x, 0, 1, 10); }
}

async function main() {
  wire();
  const [fromUrl, v] = readHash();
  view = v;
  try {
    await createSession(fromUrl);
  } catch (e) {
    showMessage(`The link's setup was refused (${e.message}); starting from the defaults.`);
    await createSession(DEFAULTS);
  }
}

// Leaving the page ends its session at once instead of after the idle timeout.
window.addEventListener('pagehide', () => {
  if (sessionId) fetch(`/api/sessions/${sessionId}`, { method: 'DELETE', keepalive: true }).catch(() => {});
});

main().catch((e) => showMessage(`Cannot reach the server: ${e.message}`));
