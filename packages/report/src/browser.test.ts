/**
 * Real-browser check of the generated site: Debian's chromium driven by playwright-core loads
 * index.html from disk (file://), with no network. Without /usr/bin/chromium the test fails under
 * CI=true and is skipped with a reason otherwise (install: apt-get install -y chromium).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from './build.js';
import { SEMI_RUNS, STANDARD_RUNS, writeFixtureRuns } from './fixtures.test-util.js';
import { expectedSeries, expectedTableRows, plottedSeries, type PlottedChart, type ShownRow } from './browser-expect.test-util.js';
import type { ResultsJson } from './results-json.js';

/** Debian's chromium; REPORT_CHROMIUM overrides the path (e.g. to check the missing-browser path). */
const CHROMIUM = process.env.REPORT_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const tmp = mkdtempSync(join(tmpdir(), 'lvit-report-browser-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('report in a real browser', () => {
  it('loads from file:// without console errors and draws every chart', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      const reason = `${CHROMIUM} not found: install it with 'apt-get install -y chromium'`;
      if (process.env.CI === 'true') throw new Error(`browser test needs chromium in CI: ${reason}`);
      ctx.skip(`skipped: ${reason}`);
    }
    const runsDir = join(tmp, 'runs');
    await writeFixtureRuns(runsDir, [
      ...STANDARD_RUNS,
      // A second dataset, so every chart kind appears more than once.
      ...STANDARD_RUNS.slice(0, 4).map((r) => ({ ...r, dataset: 'qata', labelFraction: 25 })),
      // Semi-supervised runs (result.semi, loss terms in the curves) with their supervised bases.
      ...SEMI_RUNS,
    ]);
    const { indexHtml } = await buildReport({ runsDir, outDir: join(tmp, 'site') });

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file://')) problems.push(`network request: ${req.url()}`);
      });

      await page.goto(pathToFileURL(indexHtml).href, { waitUntil: 'load' });
      const counts = await page.evaluate(() => ({
        canvases: document.querySelectorAll('canvas').length,
        drawn: document.querySelectorAll('canvas[data-drawn="true"]').length,
      }));
      expect(counts.canvases).toBeGreaterThanOrEqual(8);
      expect(counts.drawn).toBe(counts.canvases);

      // Every canvas has drawn pixels, and coloured ones (data, not only grey axes and text).
      const pixels = await page.evaluate(() =>
        Array.from(document.querySelectorAll('canvas')).map((canvas) => {
          const ctx2d = canvas.getContext('2d')!;
          const { data } = ctx2d.getImageData(0, 0, canvas.width, canvas.height);
          let inked = 0;
          let coloured = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] === 0) continue;
            inked++;
            const hi = Math.max(data[i], data[i + 1], data[i + 2]);
            const lo = Math.min(data[i], data[i + 1], data[i + 2]);
            if (hi - lo > 60) coloured++;
          }
          return { chart: canvas.getAttribute('data-chart'), width: canvas.width, height: canvas.height, inked, coloured };
        }),
      );
      for (const p of pixels) {
        expect(p.width * p.height, `${p.chart} canvas size`).toBeGreaterThan(0);
        expect(p.inked, `${p.chart} inked pixels`).toBeGreaterThan(500);
        expect(p.coloured, `${p.chart} coloured pixels`).toBeGreaterThan(20);
      }

      // What each chart plots (Chart.getChart(canvas).data) and what each comparison-table row shows
      // are the numbers of results.json, the file written next to index.html.
      const results = JSON.parse(readFileSync(join(dirname(indexHtml), 'results.json'), 'utf8')) as ResultsJson;
      const plotted: PlottedChart[] = await page.evaluate(() =>
        Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
          const chart = (window as unknown as { Chart: { getChart(c: Element): { data: { datasets: { label: string; type?: string; data: { x: number; y: number }[] }[] } } } }).Chart.getChart(canvas)!;
          return {
            attrs: { ...(canvas as HTMLCanvasElement).dataset } as Record<string, string>,
            datasets: chart.data.datasets.map((d) => ({ label: d.label, type: d.type ?? null, points: d.data.map((p) => [p.x, p.y] as [number, number]) })),
          };
        }),
      );
      expect(plotted.length).toBe(counts.canvases);
      for (const chart of plotted) expect(plottedSeries(chart, results), JSON.stringify(chart.attrs)).toEqual(expectedSeries(chart.attrs, results));

      const shown: ShownRow[] = await page.evaluate(() =>
        Array.from(document.querySelectorAll('table.comparison:not(.semi):not(.ablation) tbody')).map((tbody) => {
          const text = (sel: string) => tbody.querySelector(sel)?.textContent?.trim() ?? null;
          const means = Array.from(tbody.querySelectorAll('td.ours a.mean'));
          return {
            section: tbody.closest('section')!.id,
            group: means[0].getAttribute('href')!.slice(1),
            model: text('td.model'),
            labels: text('tr.main td:nth-child(2)'),
            dice: means[0].textContent!.trim(),
            iou: means[1].textContent!.trim(),
            seeds: Array.from(tbody.querySelectorAll('td.ours .seeds a')).map((a) => a.textContent!.replace(/\u00a0/g, ' ').trim()),
            published: text('td.published') ?? text('td.not-published'),
            diff: text('td.diff'),
          };
        }),
      );
      expect(shown.length).toBe(results.rows.length);
      expect(shown).toEqual(expectedTableRows(results));

      // Every overlay image decoded.
      const images = await page.evaluate(() => Array.from(document.images).map((img) => ({ src: img.src, ok: img.complete && img.naturalWidth > 0 })));
      expect(images.length).toBeGreaterThan(0);
      for (const img of images) expect(img.ok, img.src).toBe(true);

      const shot = join(tmp, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(existsSync(shot)).toBe(true);
      const wanted = process.env.REPORT_SCREENSHOT;
      if (wanted) {
        mkdirSync(dirname(resolve(wanted)), { recursive: true });
        copyFileSync(shot, resolve(wanted));
      }
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
