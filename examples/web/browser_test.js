#!/usr/bin/env node
// Drives headless Chromium (Debian's, through playwright-core: no browser
// download) to the web_demo page and checks what it rendered: the unary
// reply, the four server-streamed replies and the status of the call to a
// method the server does not have. Saves a screenshot either way.
//
//   node browser_test.js PAGE_URL SCREENSHOT.png [--expect-cors-refusal]
//
// With --expect-cors-refusal (web_demo started with another ALLOWED_ORIGIN
// than the page's), it checks the opposite: Chromium's CORS preflight for
// each call is refused, and the page renders fetch failures, no reply.
//
// CHROMIUM overrides the browser (default /usr/bin/chromium). Every wait is
// bounded, and the whole run is under RUN_LIMIT_MS. Prints the rendered
// results and "PASS web_demo"; on failure, the reason, the page's console
// errors and failed requests, and exits 1 (2 if the browser could not run).
'use strict';

const fs = require('fs');
const path = require('path');

const RUN_LIMIT_MS = 75000;
const LAUNCH_LIMIT_MS = 30000;
const LOAD_LIMIT_MS = 15000;
const RESULTS_LIMIT_MS = 30000;

const METHODS = ['SayHello', 'SayHelloStreamReply', 'SayGoodbye'];

/** What the page renders: served calls, or calls the browser blocked (CORS). */
const EXPECTED = {
  served: {
    states: { unary: 'done', stream: 'done', error: 'done' },
    unary: 'Hello browser',
    stream: ['Hello browser', 'Bonjour browser', 'Hola browser', 'Hallo browser'],
    error: 'UNIMPLEMENTED: unknown method SayGoodbye for service helloworld.Greeter',
  },
  refused: {
    // A fetch the browser refuses is a TypeError, which connect-web reports as UNKNOWN.
    states: { unary: 'failed', stream: 'failed', error: 'done' },
    unary: 'error: UNKNOWN: Failed to fetch',
    stream: ['error: UNKNOWN: Failed to fetch'],
    error: 'UNKNOWN: Failed to fetch',
  },
};

function fail(code, message) {
  console.error(`FAIL web_demo: ${message}`);
  process.exit(code);
}

async function main() {
  const [pageUrl, screenshot, mode] = process.argv.slice(2);
  if (!pageUrl || !screenshot || (mode !== undefined && mode !== '--expect-cors-refusal')) {
    fail(2, 'usage: node browser_test.js PAGE_URL SCREENSHOT.png [--expect-cors-refusal]');
  }
  const refused = mode === '--expect-cors-refusal';
  const expected = refused ? EXPECTED.refused : EXPECTED.served;
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) fail(2, `${executablePath} not found: run scripts/setup-browser.sh`);
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    fail(2, `playwright-core is not installed (${e.message}): run scripts/setup-browser.sh`);
  }

  const browser = await chromium
    .launch({
      executablePath,
      headless: true,
      timeout: LAUNCH_LIMIT_MS,
      // CI runs as root, where Chromium's sandbox cannot start; /dev/shm may be small in containers.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    })
    .catch((e) => fail(2, `${executablePath} did not start: ${e.message}`));

  const problems = []; // console errors, uncaught exceptions, failed requests
  const grpcCalls = []; // requests to another origin than the page's
  let failure = null;
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const pageOrigin = new URL(pageUrl).origin;
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
    page.on('requestfailed', (req) =>
      problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`),
    );
    page.on('request', (req) => {
      if (new URL(req.url()).origin !== pageOrigin) grpcCalls.push(`${req.method()} ${req.url()}`);
    });

    const response = await page.goto(pageUrl, { timeout: LOAD_LIMIT_MS, waitUntil: 'load' });
    if (!response || !response.ok()) throw new Error(`${pageUrl}: HTTP ${response ? response.status() : 'no response'}`);

    // Each result's data-state leaves "pending" when its call has ended.
    await page
      .waitForFunction(
        () => ['unary', 'stream', 'error'].every((id) => document.getElementById(id).dataset.state !== 'pending'),
        null,
        { timeout: RESULTS_LIMIT_MS, polling: 100 },
      )
      .catch(() => {
        throw new Error(`the page's calls had not all ended after ${RESULTS_LIMIT_MS} ms`);
      });

    const rendered = await page.evaluate(() => {
      const el = (id) => document.getElementById(id);
      return {
        states: { unary: el('unary').dataset.state, stream: el('stream').dataset.state, error: el('error').dataset.state },
        unary: el('unary').textContent,
        stream: [...el('stream').querySelectorAll('li')].map((li) => li.textContent),
        error: el('error').textContent,
      };
    });
    console.log(`rendered: ${JSON.stringify(rendered)}`);
    console.log(`cross-origin requests: ${JSON.stringify(grpcCalls)}`);

    const wrong = [];
    for (const key of ['states', 'unary', 'stream', 'error']) {
      const [got, want] = [JSON.stringify(rendered[key]), JSON.stringify(expected[key])];
      if (got !== want) wrong.push(`${key}: ${got}, want ${want}`);
    }
    // The three calls went to the gRPC server's origin, not the page's.
    const grpcOrigin = await page.evaluate(() => new URL(document.querySelector('meta[name="grpc-base-url"]').content).origin);
    for (const method of METHODS) {
      const url = `${grpcOrigin}/helloworld.Greeter/${method}`;
      if (!grpcCalls.includes(`POST ${url}`)) wrong.push(`no cross-origin POST ${url} (saw ${JSON.stringify(grpcCalls)})`);
      // Refused: Chromium says why, for each call (its preflight got no CORS headers).
      const blocked = `Access to fetch at '${url}' from origin '${pageOrigin}' has been blocked by CORS policy: Response to preflight request`;
      if (refused && !problems.some((p) => p.includes(blocked))) wrong.push(`no console error "${blocked} ..."`);
    }
    if (!refused && problems.length) wrong.push('errors in the browser (below)');
    if (wrong.length) failure = wrong.join('; ');

    fs.mkdirSync(path.dirname(path.resolve(screenshot)), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true, timeout: LOAD_LIMIT_MS });
    console.log(`screenshot: ${path.resolve(screenshot)}`);
  } catch (e) {
    failure = e.message;
  } finally {
    await browser.close().catch(() => {});
  }

  if (failure) {
    const extra = problems.length ? `\n  browser: ${problems.join('\n  browser: ')}` : '';
    fail(1, `${failure}${extra}`);
  }
  console.log(`PASS web_demo${refused ? ' (CORS refusal)' : ''}`);
}

setTimeout(() => fail(1, `no result within ${RUN_LIMIT_MS} ms`), RUN_LIMIT_MS).unref();
main().catch((e) => fail(1, e.stack || e.message));
