// Renders Mermaid charts to SVG in headless Chromium, as GitHub's viewer does in a browser.
//
// stdin: JSON {charts: [{text, timezone?, png?}]}; stdout: JSON, one result per chart:
//   {ok: false, error} or {ok: true, bars: [{classes, label}], ticks: [text], svg}
// `bars` are the task rects (`rect.task`) in drawing order with their CSS classes, which
// is what tells a success from a failure on screen; `ticks` are the axis labels as the
// browser's time zone (`timezone`, default UTC) formats them; `png` saves a screenshot.
//
// Debian's chromium, never a browser playwright downloads (the network is closed), and
// mermaid's bundled dist/mermaid.min.js from node_modules, so no request leaves the page.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const BUNDLE = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
// playwright gives every launch a fresh temporary profile (--user-data-dir) of its own.
const ARGS = [
  '--no-sandbox', // root cannot use chromium's sandbox
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function renderOne(browser, { text, timezone = 'UTC', png = null }) {
  const context = await browser.newContext({
    timezoneId: timezone,
    viewport: { width: 1000, height: 600 },
    deviceScaleFactor: 2,
  });
  try {
    const page = await context.newPage();
    await page.setContent('<!doctype html><html><body style="margin:16px;background:#fff"></body></html>');
    await page.addScriptTag({ path: BUNDLE });
    const result = await page.evaluate(async (chart) => {
      // GitHub's viewer renders with mermaid's default (strict) security level.
      globalThis.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
      try {
        const { svg } = await globalThis.mermaid.render('chart', chart);
        document.body.innerHTML = svg;
      } catch (error) {
        return { ok: false, error: String(error?.message ?? error) };
      }
      const bars = [...document.querySelectorAll('rect.task')].map((rect) => ({
        classes: [...rect.classList],
        label: document.getElementById(`${rect.id}-text`)?.textContent ?? null,
      }));
      const ticks = [...document.querySelectorAll('g.tick text')].map((t) => t.textContent);
      return { ok: true, bars, ticks, svg: document.body.innerHTML };
    }, text);
    if (result.ok && png) await page.locator('svg').first().screenshot({ path: png });
    return result;
  } finally {
    await context.close();
  }
}

const { charts } = JSON.parse(readFileSync(0, 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ARGS,
});
try {
  const results = [];
  for (const chart of charts) results.push(await renderOne(browser, chart));
  process.stdout.write(JSON.stringify(results));
} finally {
  await browser.close();
}
