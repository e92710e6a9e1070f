import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../base/log.ts';
import { parseConfig } from '../../config/load.ts';
import { createDaemon } from '../../core/daemon/daemon.ts';
import type { RunEvent } from '../../core/protocol/run-events.ts';
import { writeDocumentSet } from '../../test/fixtures/documents.ts';
import { ensureTinyPiperVoice } from '../../test/models/piper-voice.ts';
import { writeTinyGguf } from '../../test/models/tiny-gguf.ts';
import { ensureTinyWhisperModel } from '../../test/models/whisper-ggml.ts';
import { VirtualSink } from '../../voice/audio/virtual-sink.ts';
import { benchEmbeddingModels, documentSetWords } from './knowledge-retrieval.ts';
import { summarize, type Summary } from './stats.ts';

/**
 * Question → first audio with retrieval and without, in one run of one daemon (createDaemon, as `jarvis start`
 * assembles it, no microphone): typed questions, alternately about the household's documents (the knowledge stage
 * embeds the question, searches, and puts three passages in front of it) and not (straight to the LLM), each the
 * first of its conversation (llm.historyTurns 0). Every figure comes from the turn's run events: run-start (the
 * question typed) → playback-start (the first audio handed to the speaker). The models are the test-made ones: the
 * tiny chat GGUF and the tiny Piper voice (their cost is not a real model's: what differs between the two kinds of
 * question is what this measures), and the nomic-shaped Q8_0 embedding GGUF (a real model's compute for the question).
 * Both test-made GGUFs know the documents' words, so a passage is about as many tokens as a trained tokenizer
 * makes of it.
 */

export const WITH_RETRIEVAL = [
  'what does the boiler manual say about the pressure',
  'when does the car insurance renew',
  'what did the school letter say about Friday',
  'how long do I bake the lemon cake according to the recipes',
];
export const WITHOUT_RETRIEVAL = ['tell me something nice about penguins', 'describe the colour of the sea at dawn', 'give me an idea for a rainy afternoon', 'explain why the sky looks blue'];

export interface TurnKind {
  readonly turns: number;
  /** run-start → playback-start. */
  readonly firstAudio: Summary;
  /** run-start → first-token (the skills' stage, the knowledge stage's search, the LLM's prompt). */
  readonly firstToken: Summary;
  /** The knowledge run event's embedMs + searchMs. */
  readonly retrieval?: Summary;
  readonly embed?: Summary;
}

export interface KnowledgeTurnResults {
  readonly with: TurnKind;
  readonly without: TurnKind;
  readonly passages: number;
  readonly incidents: string[];
  readonly markdown: string;
}

export async function measureKnowledgeTurns(turnsEach = 12): Promise<KnowledgeTurnResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-bench-kturns-'));
  const docs = path.join(dir, 'docs');
  const sink = new VirtualSink({ speed: 0, sampleRate: 22_050, record: false });
  try {
    await writeDocumentSet(docs);
    const words = await documentSetWords();
    const [{ nomicShaped }, llm, stt, voice] = await Promise.all([
      benchEmbeddingModels(),
      writeTinyGguf({ name: 'tiny chat, document words', words }),
      ensureTinyWhisperModel(),
      ensureTinyPiperVoice(),
    ]);
    const config = parseConfig({
      dataDir: path.join(dir, 'data'),
      stt: { model: stt, threads: 1 },
      llm: { model: llm, maxAnswerTokens: 12, historyTurns: 0 },
      tts: { voice },
      conversation: { followUpMs: 0 },
      // Random vectors: the keywords decide what is relevant, as in the tests.
      knowledge: { folders: [docs], model: nomicShaped, gpu: 'auto', niceness: 0, threads: 1, minSimilarity: 1.01 },
    });
    const daemon = await createDaemon(config, { log: silentLogger, sink, hear: false, loadLlm: 'at-start' });
    const incidents: string[] = [];
    const samples = { with: [] as RunEvent[][], without: [] as RunEvent[][] };
    try {
      daemon.assistant.dispatch({ type: 'ready' });
      daemon.start();
      process.stderr.write('indexing the document set with the nomic-shaped model…\n');
      await daemon.knowledge!.idle();
      const passages = daemon.knowledge!.db.counts().passages;
      const events = new Map<number, RunEvent[]>();
      daemon.assistant.bus.subscribe((event) => {
        const list = events.get(event.runId) ?? [];
        list.push(event);
        events.set(event.runId, list);
      });
      for (let i = -1; i < turnsEach; i++) {
        for (const kind of ['with', 'without'] as const) {
          const questions = kind === 'with' ? WITH_RETRIEVAL : WITHOUT_RETRIEVAL;
          const question = questions[(i + questions.length) % questions.length]!;
          const before = new Set(events.keys());
          const result = await daemon.assistant.ask(question);
          const runId = [...events.keys()].find((id) => !before.has(id));
          const run = runId === undefined ? [] : events.get(runId)!;
          const knowledge = run.find((e) => e.type === 'knowledge');
          if (result.outcome !== 'answered' || !run.some((e) => e.type === 'playback-start')) {
            incidents.push(`"${question}": ${result.outcome}${run.find((e) => e.type === 'error') ? ` (${JSON.stringify(run.find((e) => e.type === 'error'))})` : ''}`);
            continue;
          }
          if ((kind === 'with') !== (knowledge !== undefined && knowledge.type === 'knowledge' && knowledge.passages.length > 0)) {
            incidents.push(`"${question}": ${knowledge ? 'searched' : 'not searched'}, not as planned`);
            continue;
          }
          // The first pair warms up (the LLM's first prompt, the worker's first question).
          if (i >= 0) samples[kind].push(run);
        }
      }
      const kinds = { with: turnKind(samples.with), without: turnKind(samples.without) };
      return { ...kinds, passages, incidents, markdown: renderTurns(kinds, passages, incidents) };
    } finally {
      await daemon.dispose();
    }
  } finally {
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function turnKind(runs: RunEvent[][]): TurnKind {
  const at = (run: RunEvent[], type: RunEvent['type']) => run.find((e) => e.type === type)?.t ?? Number.NaN;
  const searches = runs.map((run) => run.find((e): e is Extract<RunEvent, { type: 'knowledge' }> => e.type === 'knowledge')).filter((e) => e !== undefined);
  return {
    turns: runs.length,
    firstAudio: summarize(runs.map((run) => at(run, 'playback-start') - at(run, 'run-start')))!,
    firstToken: summarize(runs.map((run) => at(run, 'first-token') - at(run, 'run-start')))!,
    ...(searches.length > 0 ? { retrieval: summarize(searches.map((e) => e.embedMs + e.searchMs))!, embed: summarize(searches.map((e) => e.embedMs))! } : {}),
  };
}

function renderTurns(kinds: { with: TurnKind; without: TurnKind }, passages: number, incidents: string[]): string {
  const f = (s: Summary | undefined) => (s ? `${s.median.toFixed(0)} / ${s.p95.toFixed(0)}` : '–');
  return [
    '## Question → first audio, with retrieval and without, in one run (typed questions through the daemon)',
    '',
    `Test-made models: the tiny chat GGUF (12 tokens an answer), the tiny Piper voice, a speaker that plays at once; the nomic-shaped Q8_0 embedding GGUF for the question (1 thread). ${passages} passages indexed (the tests' document set). Questions alternate; each is the first of its conversation; the first pair is a warm-up. p50 / p95 ms.`,
    '',
    '| questions | turns | question → first audio | question → first token | of it: retrieval (embed + search) | of it: embedding the question |',
    '|---|---:|---:|---:|---:|---:|',
    `| about the documents ("what does the boiler manual say about the pressure") | ${kinds.with.turns} | ${f(kinds.with.firstAudio)} | ${f(kinds.with.firstToken)} | ${f(kinds.with.retrieval)} | ${f(kinds.with.embed)} |`,
    `| not about them ("tell me something nice about penguins") | ${kinds.without.turns} | ${f(kinds.without.firstAudio)} | ${f(kinds.without.firstToken)} | – | – |`,
    '',
    `With retrieval the first audio comes ${(kinds.with.firstAudio.median - kinds.without.firstAudio.median).toFixed(0)} ms later (p50): the retrieval, and the LLM reading three passages before it answers.${incidents.length ? ` Incidents: ${incidents.join('; ')}.` : ''}`,
  ].join('\n');
}
