import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunEvent } from '../../core/protocol/run-events.ts';
import { buildHud, hudBuildIsCurrent, hudDistDir } from '../../core/server/hud-build.ts';
import { chromiumMissing, launchChromium, newScreen, WALL } from '../../test/fixtures/browser.ts';
import { startTestHud } from '../../test/fixtures/hud-server.ts';
import { ScriptedResponder } from '../../test/fixtures/scripted-responder.ts';
import { repoRoot } from '../../test/fixtures/speech.ts';

/**
 * HUD latency: a run event published on the core's bus → the wall HUD in Chromium has painted it. The core is the
 * real HUD server (core/server) around a real Assistant in this process (test/fixtures/hud-server.ts); each
 * probe is a typed question with a unique text, whose llm-start event carries the text the HUD shows as the
 * question. In the page, a MutationObserver sees the text arrive and marks the end of the next animation frame
 * (requestAnimationFrame, then a task after it: the frame with the change has been produced). The page's clock
 * is mapped onto this process's by the round trip with the smallest delay.
 *
 * Playwright runs in this process too, so the wait for the page is set up before each question is asked: set up
 * after it, its work here (and its script in the page) ran between the event and the socket write, which waits
 * for this process's current tick to end (engine.io writes one frame at a time). That delayed the write by about
 * 5 ms at the median and 10–35 ms at p95 on this 2-core box: time the daemon itself does not spend.
 */

export interface HudResult {
  /** llm-start published → the question painted, ms. */
  readonly eventToPaintMs: number[];
  /** Uncertainty of the clock mapping: half the best round trip, ms. */
  readonly clockErrorMs: number;
}

const WARMUP = 2;

/** Why the figure cannot be measured here, or undefined when it can. */
export function hudAbsence(): string | undefined {
  const missing = ['hud', path.join('core', 'server')].filter((dir) => !fs.existsSync(path.join(repoRoot, dir)));
  if (missing.length > 0) return `HUD not present (no ${missing.join(' or ')} in this checkout)`;
  return chromiumMissing();
}

const PROBE = `
  window.__painted = {};
  new MutationObserver(() => {
    const match = /benchmark probe \\d+/.exec(document.querySelector('[data-testid=question]')?.textContent ?? '');
    if (!match || match[0] in window.__painted) return;
    const key = match[0];
    window.__painted[key] = 0;
    requestAnimationFrame(() => setTimeout(() => { window.__painted[key] = performance.timeOrigin + performance.now(); }, 0));
  }).observe(document, { subtree: true, childList: true, characterData: true });
`;

/** The page's global with the probe's record (the functions below run in Chromium: no closures). */
type ProbedPage = { __painted: Record<string, number> };

export async function measureHud(runs: number): Promise<HudResult> {
  if (!(await hudBuildIsCurrent())) await buildHud();
  const hud = await startTestHud({ hudDir: hudDistDir, responder: new ScriptedResponder(() => 'Done.') });
  const browser = await launchChromium();
  try {
    const { page } = await newScreen(browser, WALL);
    await page.addInitScript(PROBE);
    await page.goto(hud.url);
    await page.waitForSelector('[data-testid=phase][data-phase=idle]', { timeout: 30_000 });

    // page epoch ms = this process's epoch ms + offset, from the round trip with the least delay.
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < 30; i++) {
      const sent = performance.timeOrigin + performance.now();
      const pageNow = await page.evaluate(() => performance.timeOrigin + performance.now());
      const received = performance.timeOrigin + performance.now();
      if (received - sent < best.rtt) best = { rtt: received - sent, offset: pageNow - (sent + received) / 2 };
    }

    const eventToPaintMs: number[] = [];
    for (let i = 0; i < runs + WARMUP; i++) {
      const text = `benchmark probe ${i}`;
      let published: number | undefined;
      const unsubscribe = hud.assistant.bus.subscribe((event: RunEvent) => {
        if (event.type === 'llm-start' && event.text === text) published = performance.timeOrigin + event.t;
      });
      // Functions, not strings: the HUD's Content-Security-Policy forbids eval in the page.
      const seen = page.waitForFunction((key) => ((globalThis as unknown as ProbedPage).__painted[key] ?? 0) > 0, text, { timeout: 10_000 });
      seen.catch(() => {}); // awaited below; this only keeps an early failure from being an unhandled rejection
      await page.evaluate(() => 0); // one round trip: the wait is set up, and Playwright has nothing left to do here
      const answered = hud.assistant.ask(text);
      await seen;
      const painted = await page.evaluate((key) => (globalThis as unknown as ProbedPage).__painted[key]!, text);
      await answered;
      unsubscribe();
      if (published === undefined) throw new Error(`no llm-start event for "${text}"`);
      if (i >= WARMUP) eventToPaintMs.push(painted - best.offset - published);
    }
    return { eventToPaintMs, clockErrorMs: best.rtt / 2 };
  } finally {
    await browser.close();
    await hud.close();
  }
}
