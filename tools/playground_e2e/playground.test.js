// The playground end to end in headless Chromium: the page is driven by clicks as a person
// would, the server trains, and the test reads the losses the page shows.
//
//   tools/install_browser_test_deps.sh            # once: Debian's chromium, npm ci here
//   cargo build --release -p nabla-cli
//   node --test tools/playground_e2e/              # or: npm test in this folder
//
// NABLA_BIN overrides the binary (default: target/release/nabla); SCREENSHOT the picture's
// path (default: docs/playground.png).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.NABLA_BIN || path.join(ROOT, 'target', 'release', 'nabla');
const SCREENSHOT = process.env.SCREENSHOT || path.join(ROOT, 'docs', 'playground.png');
const ALL_FEATURES = ['x1', 'x2', 'x1sq', 'x2sq', 'x1x2', 'sinx1', 'sinx2'];

let server;
let baseUrl;
let browser;
let profile;

/** Starts `nabla playground` on a free port and resolves with its URL. */
function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(BIN, ['playground', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no URL from the server:\n${out}`)), 20000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/http:\/\/[^\s/]+\//);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', (c) => { out += c; });
    server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
  });
}

before(async () => {
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: cargo build --release -p nabla-cli`);
  baseUrl = await startServer();
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nabla-e2e-chromium-'));
  // The machine has no network: these flags keep Chromium from waiting on services. The
  // fresh profile folder is Chromium's --user-data-dir.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 860 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

async function openPage(url = baseUrl) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Everything comes from the playground's own server: no CDN, no other host.
  page.on('request', (r) => {
    if (!r.url().startsWith(baseUrl) && !r.url().startsWith('blob:')) errors.push(`external request: ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    if (!r.url().includes('/events')) errors.push(`request failed: ${r.url()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('epoch').dataset.value !== undefined);
  return [page, errors];
}

/** Clicks `selector` and waits until the URL's hash shows the server accepted the change. */
async function clickAndWait(page, selector, hashPart) {
  await page.click(selector);
  await page.waitForFunction((part) => decodeURIComponent(location.hash).includes(part), hashPart);
}

/** The test loss the page shows, once it is below `target`, or fails after `seconds`. */
async function waitForTestLoss(page, target, seconds) {
  const started = Date.now();
  await page.waitForFunction(
    (t) => Number(document.getElementById('loss-test').dataset.value) < t,
    target,
    { timeout: seconds * 1000, polling: 100 },
  );
  return [Number(await page.getAttribute('#loss-test', 'data-value')), (Date.now() - started) / 1000];
}

test('spiral, all seven features, two hidden layers: test loss < 0.1 within 60 s', { timeout: 120000 }, async () => {
  const [page, errors] = await openPage();
  await clickAndWait(page, '#dataset-spiral', 'dataset=spiral');
  for (const f of ALL_FEATURES.slice(2)) {
    const on = ALL_FEATURES.slice(0, ALL_FEATURES.indexOf(f) + 1).join(',');
    await clickAndWait(page, `#feature-${f}`, `features=${on}`);
  }
  // Two hidden layers (the default), widened to 8 neurons each.
  for (let n = 5; n <= 8; n++) await clickAndWait(page, '#layer-0-add', `hidden=${n},2`);
  for (let n = 3; n <= 8; n++) await clickAndWait(page, '#layer-1-add', `hidden=8,${n}`);
  assert.strictEqual(await page.textContent('#num-layers'), '2');
  assert.strictEqual(await page.locator('#network .neuron').count(), 16);

  await page.click('#play-pause');
  const [loss, secs] = await waitForTestLoss(page, 0.1, 60);
  const fps = Number(await page.getAttribute('#fps', 'data-value'));
  console.log(`spiral: test loss ${loss.toFixed(4)} after ${secs.toFixed(1)} s, ${fps.toFixed(1)} frames/s`);
  assert.ok(fps >= 20, `the page received ${fps} frames per second while training`);

  await page.check('#show-test');
  await page.waitForTimeout(500);
  fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT });

  // The URL holds the setup: a fresh page opened on it shows the same network.
  const url = page.url();
  await page.click('#play-pause');
  const [copy] = await openPage(url);
  await copy.waitForFunction(() => document.querySelectorAll('#network .neuron').length === 16);
  const offFeatures = await copy.locator('#network .feature.off').count();
  assert.strictEqual(offFeatures, 0);
  assert.ok(await copy.isChecked('#show-test'));
  assert.deepStrictEqual(errors, []);
  await copy.close();
  await page.close();
});

test('circle, x1 and x2, one hidden layer of 4 tanh neurons: test loss < 0.05', { timeout: 120000 }, async () => {
  const [page, errors] = await openPage();
  await clickAndWait(page, '#dataset-circle', 'dataset=circle');
  assert.strictEqual(await page.locator('#network .feature:not(.off)').count(), 2);
  await clickAndWait(page, '#remove-layer', 'hidden=4&');
  await page.selectOption('#activation', 'tanh');
  assert.strictEqual(await page.locator('#network .neuron').count(), 4);
  await page.click('#play-pause');
  const [loss, secs] = await waitForTestLoss(page, 0.05, 60);
  console.log(`circle: test loss ${loss.toFixed(4)} after ${secs.toFixed(1)} s`);
  await page.click('#play-pause');
  // Pausing stops training: the epoch stays put.
  await page.waitForFunction(() => document.getElementById('play-pause').dataset.playing === '0');
  const epoch = await page.getAttribute('#epoch', 'data-value');
  await page.waitForTimeout(300);
  assert.strictEqual(await page.getAttribute('#epoch', 'data-value'), epoch);
  assert.deepStrictEqual(errors, []);
  await page.close();
});

test('the other controls: regression, step, reset, regenerate, discretize, upload, export', { timeout: 120000 }, async () => {
  const [page, errors] = await openPage();
  const epoch = () => page.getAttribute('#epoch', 'data-value');
  await page.selectOption('#problem', 'regression');
  await page.waitForFunction(() => location.hash.includes('dataset=plane'));
  await clickAndWait(page, '#dataset-multigauss', 'dataset=multigauss');
  await page.selectOption('#optimizer', 'adam');
  await page.waitForFunction(() => location.hash.includes('optimizer=adam'));
  await page.selectOption('#activation', 'relu');
  await page.waitForFunction(() => location.hash.includes('activation=relu'));
  await page.selectOption('#regularization', 'l2');
  await page.selectOption('#reg-rate', '0.001');
  await page.waitForFunction(() => location.hash.includes('reg_rate=0.001'));
  await page.selectOption('#dropout-0', '0.1');
  await page.waitForFunction(() => location.hash.includes('dropout=0.1'));

  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('epoch').dataset.value === '1');
  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('epoch').dataset.value === '2');
  await page.click('#reset');
  await page.waitForFunction(() => document.getElementById('epoch').dataset.value === '0');
  await clickAndWait(page, '#regenerate', 'seed=2');
  assert.strictEqual(await epoch(), '0');

  // Discretized output has two colours only.
  await page.selectOption('#problem', 'classification');
  await page.waitForFunction(() => location.hash.includes('dataset=circle'));
  await page.check('#discretize');
  await page.waitForFunction(() => location.hash.includes('discretize=1'));
  const colours = await page.evaluate(() => {
    const c = document.getElementById('output-node').querySelector('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const set = new Set();
    for (let i = 0; i < d.length; i += 4) set.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
    return set.size;
  });
  assert.ok(colours <= 2, `${colours} colours in the discretized output`);

  // Your own data: a CSV with a header line, labels 0/1.
  const rows = ['x1,x2,label'];
  for (let i = 0; i < 40; i++) rows.push(`${i / 4 - 5},${(i % 7) - 3},${i < 20 ? 0 : 1}`);
  await page.setInputFiles('#upload', { name: 'mine.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n')) });
  await page.waitForFunction(() => location.hash.includes('dataset=custom'));
  assert.ok(await page.isVisible('#dataset-custom'));
  await page.click('#step');
  await page.waitForFunction(() => document.getElementById('epoch').dataset.value === '1');

  // A bad upload shows the server's message and keeps the data.
  await page.setInputFiles('#upload', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('1,2,5\n3,4,1\n') });
  await page.waitForFunction(() => !document.getElementById('message').hidden);
  assert.match(await page.textContent('#message'), /row 0: a class label is 0, 1 or -1, got 5/);

  // Export: a safetensors file whose header names the layers.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = await download.path();
  const bytes = fs.readFileSync(file);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString());
  assert.ok('fc.0.weight' in header && 'fc.2.bias' in header, Object.keys(header).join());
  assert.deepStrictEqual(header['fc.0.weight'].shape, [4, 2]);
  assert.deepStrictEqual(errors, []);
  await page.close();
});
