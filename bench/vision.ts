import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseConfig } from '../config/load.ts';
import type { ConfigInput } from '../config/schema.ts';
import { openAiResponder } from '../core/llm/openai-responder.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { LIMITS } from '../core/protocol/wire.ts';
import { startTestHud, type TestClient } from '../test/fixtures/hud-server.ts';
import { startLlamaServer } from '../test/fixtures/llama-server.ts';
import { pngPhoto } from '../test/fixtures/photos.ts';
import { repoRoot } from '../test/fixtures/speech.ts';
import { ensureTinyGguf } from '../test/models/tiny-gguf.ts';
import { ensureTinyMmproj } from '../test/models/tiny-mmproj.ts';
import type { Figure } from './lib/figures.ts';
import { markdownTable, textTable } from './lib/report.ts';
import { summarize } from './lib/stats.ts';

/**
 * "Look at something" (issue #14's bench): photo sent → first audio, against the same question typed without a
 * photo, in one run, interleaved. One real llama-server (built from the llama.cpp sources node-llama-cpp ships)
 * serves the test-made chat model with the test-made projector (test/models/tiny-mmproj.ts) loaded; JARVIS's chat
 * model (llm.backend "openai") and its vision role both point at it, so the two kinds of question differ only in the
 * photo and the path it takes. The daemon is the real one with its HUD server (test/fixtures/hud-server.ts: espeak-ng
 * speaks, the speaker plays at once); a paired phone (a socket.io client) sends the photo as the phone remote does
 * (photo-start, pieces, photo-end) and asks "what is this?" about it, or types the question alone.
 *
 * Every figure: performance.now() in this process, which is also the run events' clock (the daemon runs here).
 *   photo sent (photo-start) → photo-end answered (upload) → run-start (the ask) → first-token → sentence 0 → playback-start
 *
 *   npm run bench:vision                  # 20 runs of each (about a minute after the llama-server build)
 *   npm run bench:vision -- --runs 5
 *
 * The models are test-made (random weights; the projector makes 4 image tokens of a 28×28 picture), so the figure
 * is JARVIS's own path and llama.cpp's image decoding, not a real vision model's cost.
 */

const QUESTION = 'what is this?';
const WIDTH = 1600;
const HEIGHT = 1200;

interface Sample {
  /** performance.now() when photo-start (or the typed ask) was sent. */
  sent: number;
  /** When photo-end was answered; the photo is then held by the core. */
  uploaded?: number;
  events: RunEvent[];
}

async function sendPhoto(client: TestClient, bytes: Uint8Array): Promise<void> {
  const started = await client.command('photo-start', { bytes: bytes.byteLength });
  if (!started.ok) throw new Error(`photo-start: ${JSON.stringify(started)}`);
  for (let at = 0; at < bytes.byteLength; at += LIMITS.photoChunkBytes) {
    const ack = await client.command('photo-chunk', bytes.subarray(at, at + LIMITS.photoChunkBytes));
    if (!ack.ok) throw new Error(`photo-chunk: ${JSON.stringify(ack)}`);
  }
  const end = await client.command('photo-end', {});
  if (!end.ok) throw new Error(`photo-end: ${JSON.stringify(end)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, out: { type: 'string', default: path.join(repoRoot, 'bench', 'results') } } });
  const runs = Number(values.runs);
  const loadBefore = os.loadavg()[0]!;
  const started = performance.now();
  process.stderr.write(`vision bench: ${runs} runs of each (load average ${loadBefore.toFixed(2)} on ${os.availableParallelism()} cores)…\n`);

  const [model, projector] = await Promise.all([ensureTinyGguf(), ensureTinyMmproj()]);
  const server = await startLlamaServer({ model, projector });
  const openai = { baseUrl: server.baseUrl, model: 'tiny', maxRetries: 0 };
  const llm: NonNullable<ConfigInput['llm']> = { backend: 'openai', openai, maxAnswerTokens: 12, historyTurns: 0, roles: { vision: { backend: 'openai', openai } } };
  const hud = await startTestHud({
    responder: openAiResponder(parseConfig({ llm }).llm),
    config: { server: { trustLocalDisplay: false }, llm, conversation: { followUpMs: 0 } },
  });
  const photo = pngPhoto(WIDTH, HEIGHT);
  const incidents: string[] = [];
  const samples = { photo: [] as Sample[], typed: [] as Sample[] };
  try {
    const events = new Map<number, RunEvent[]>();
    const ended = new Map<number, () => void>();
    let onNewRun: ((runId: number) => void) | undefined;
    hud.assistant.bus.subscribe((event) => {
      let list = events.get(event.runId);
      if (!list) {
        list = [];
        events.set(event.runId, list);
        onNewRun?.(event.runId);
      }
      list.push(event);
      if (event.type === 'run-end') ended.get(event.runId)?.();
    });
    const { client: phone } = await hud.pairedClient('controller');

    async function turn(withPhoto: boolean): Promise<Sample> {
      const runStarted = new Promise<number>((resolve) => (onNewRun = resolve));
      const sent = performance.now();
      let uploaded: number | undefined;
      if (withPhoto) {
        await sendPhoto(phone, photo);
        uploaded = performance.now();
      }
      const ack = await phone.command('ask', { text: QUESTION, ...(withPhoto ? { photo: true } : {}) });
      if (!ack.ok) throw new Error(`ask: ${JSON.stringify(ack)}`);
      const runId = await runStarted;
      onNewRun = undefined;
      const list = events.get(runId)!;
      if (!list.some((e) => e.type === 'run-end')) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`run ${runId} did not end within 30 s`)), 30_000);
          ended.set(runId, () => (clearTimeout(timer), resolve()));
        });
      }
      return { sent, ...(uploaded !== undefined ? { uploaded } : {}), events: list };
    }

    // The first pair warms up (the server's first prompt, the first image); the order alternates.
    for (let i = -1; i < runs; i++) {
      const order = i % 2 === 0 ? (['photo', 'typed'] as const) : (['typed', 'photo'] as const);
      for (const kind of order) {
        // A pause between turns, as between a person's questions: the server allows a device 40 messages a second
        // (server.messagesPerSecond) and a photo question is 6 of them (start, 3 pieces, end, the ask).
        await new Promise((r) => setTimeout(r, 300));
        const sample = await turn(kind === 'photo');
        const end = sample.events.find((e) => e.type === 'run-end');
        const backend = sample.events.find((e): e is Extract<RunEvent, { type: 'llm-backend' }> => e.type === 'llm-backend');
        const answer = sample.events.find((e): e is Extract<RunEvent, { type: 'llm-end' }> => e.type === 'llm-end')?.text;
        const problem =
          end?.type === 'run-end' && end.outcome !== 'answered'
            ? `${end.outcome} ${JSON.stringify(sample.events.find((e) => e.type === 'error') ?? '')}`
            : !sample.events.some((e) => e.type === 'playback-start')
              ? `nothing played (the answer: ${JSON.stringify(answer)}, ${sample.events.filter((e) => e.type === 'tts-start').length} sentences said)`
              : !backend || (kind === 'photo') !== (backend.role === 'vision')
                ? `answered by ${backend ? `${backend.backend} (${backend.role ?? 'chat'})` : 'no model server'}`
                : undefined;
        if (problem) incidents.push(`${kind} run ${i + 1}: ${problem}`);
        else if (i >= 0) samples[kind].push(sample);
      }
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    phone.close();
  } finally {
    await hud.close();
    await server.kill();
  }

  const load = { before: loadBefore, after: os.loadavg()[0]!, seconds: Math.round((performance.now() - started) / 1000) };
  writeResults(values.out, photo.byteLength, samples, incidents, load);
}

const at = (s: Sample, type: RunEvent['type']) => s.events.find((e) => e.type === type)?.t ?? Number.NaN;
const firstSentence = (s: Sample) => s.events.find((e) => e.type === 'sentence' && e.index === 0)?.t ?? Number.NaN;

function splits(list: Sample[]) {
  const of = (f: (s: Sample) => number) => summarize(list.map(f));
  return {
    firstAudio: of((s) => at(s, 'playback-start') - s.sent),
    upload: of((s) => (s.uploaded ?? Number.NaN) - s.sent),
    toRunStart: of((s) => at(s, 'run-start') - (s.uploaded ?? s.sent)),
    firstToken: of((s) => at(s, 'first-token') - at(s, 'run-start')),
    firstSentence: of((s) => firstSentence(s) - at(s, 'first-token')),
    voice: of((s) => at(s, 'playback-start') - firstSentence(s)),
  };
}

function writeResults(out: string, bytes: number, samples: { photo: Sample[]; typed: Sample[] }, incidents: string[], load: { before: number; after: number; seconds: number }): void {
  const date = new Date().toISOString().slice(0, 10);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const photo = splits(samples.photo);
  const typed = splits(samples.typed);
  const figure = (id: keyof typeof photo, label: string, sub: boolean, baselineLabel?: string, goal?: string): Figure => {
    const value = photo[id];
    const base = baselineLabel ? typed[id] : undefined;
    return {
      id: `vision-${id}`,
      section: 'vision',
      label,
      unit: 'ms',
      sub,
      ...(value ? { value } : { notMeasured: 'no run answered' }),
      ...(base ? { baseline: { label: baselineLabel!, value: base } } : {}),
      ...(value && base ? { ratio: value.median / base.median } : {}),
      ...(goal ? { goal } : {}),
    };
  };
  const figures: Figure[] = [
    figure('firstAudio', 'vision turn: photo sent → first audio out (playback-start)', false, 'the question typed without a photo → first audio'),
    figure('upload', 'upload: photo-start → photo-end answered (the photo held by the core)', true),
    figure('toRunStart', 'the ask: photo held → run-start', true, 'typed ask → run-start'),
    figure('firstToken', 'first token: run-start → first-token', true, 'chat model, no photo'),
    figure('firstSentence', 'first sentence: first-token → sentence 0', true, 'chat model, no photo'),
    figure('voice', 'voice: sentence 0 → playback-start (espeak-ng)', true, 'chat model, no photo'),
  ];
  const loadLine = `${load.before.toFixed(2)} → ${load.after.toFixed(2)} (${load.seconds} s)`;
  const machine = `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. The box is shared with other work; 1-minute load average before → after: ${loadLine}.`;
  const diff = photo.firstAudio && typed.firstAudio ? photo.firstAudio.median - typed.firstAudio.median : Number.NaN;
  const lines = [
    `# Look at something (vision turn), ${date}`,
    '',
    machine,
    '',
    `${samples.photo.length} photo questions and ${samples.typed.length} typed ones, interleaved (the order alternating), in one daemon with its HUD server, after one warm-up pair. A paired phone (a socket.io client over loopback) sends a ${WIDTH}×${HEIGHT} PNG (${(bytes / 1024).toFixed(0)} KB; the phone remote sends a JPEG of at most 1600 pixels) in ${LIMITS.photoChunkBytes / 1024} KB pieces and asks "${QUESTION}" about it; the baseline is the same question typed without a photo. One llama-server, with the projector loaded, is both the vision role and the chat model (llm.backend "openai"), 1 thread, 12 tokens an answer, each question the first of its conversation, 300 ms between turns (the server's limit on a device's messages). Every time is performance.now() in the bench's process, the run events' clock.`,
    '',
    markdownTable(figures),
    '',
    `**The models are test-made**: the tiny chat GGUF and a LLaVA-shaped projector with random weights (test/models/tiny-mmproj.ts: a 28×28 picture, 4 image tokens), so the answers are not words and this is JARVIS's own path (the photo over the socket, checked by its bytes, sent as a data URL; llama.cpp decoding and resizing the picture, its encoder and projection), not what a real vision model costs: with moondream2 or LLaVA the image encoder alone takes seconds on a CPU. With the photo the first audio comes ${diff.toFixed(0)} ms later (p50).${incidents.length ? ` Incidents: ${incidents.join('; ')}.` : ' No incidents.'}`,
  ];
  fs.mkdirSync(out, { recursive: true });
  const json = { date, cpu, cores: os.availableParallelism(), node: process.version, photo: { width: WIDTH, height: HEIGHT, bytes }, runs: { photo: splits(samples.photo), typed: splits(samples.typed) }, figures, incidents, load };
  fs.writeFileSync(path.join(out, `${date}-vision.json`), `${JSON.stringify(json, null, 1)}\n`);
  fs.writeFileSync(path.join(out, `${date}-vision.md`), `${lines.join('\n')}\n`);
  process.stdout.write(`${textTable(figures)}\n\n${machine}\n`);
}

await main();
