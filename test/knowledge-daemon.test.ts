import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../base/log.ts';
import { parseConfig } from '../config/load.ts';
import { createDaemon } from '../core/daemon/daemon.ts';
import { KNOWLEDGE_PROBLEM } from '../core/knowledge/daemon-link.ts';
import { NOTHING_FOUND } from '../core/knowledge/knowledge-responder.ts';
import { addRunEvent, type TurnView } from '../core/protocol/wire.ts';
import { summarize } from '../hud/src/lib/turn.ts';
import { startTestHud } from './fixtures/hud-server.ts';
import type { RunEvent } from '../core/protocol/run-events.ts';
import { VirtualSink } from '../voice/audio/virtual-sink.ts';
import { writeDocumentSet } from './fixtures/documents.ts';
import { ManualClock } from './fixtures/manual-clock.ts';
import { Room } from './fixtures/room.ts';
import { ScriptTranscriber } from './fixtures/script-transcriber.ts';
import { ScriptedResponder } from './fixtures/scripted-responder.ts';
import { speak } from './fixtures/speech.ts';
import { ensureTinyGguf } from './models/tiny-gguf.ts';
import { loadSpokenTurnEngines } from './fixtures/spoken-engines.ts';
import { until } from './fixtures/assistant-until.ts';

/**
 * Local knowledge in the whole daemon (createDaemon, as `jarvis start` assembles it): the document set indexed by
 * the daemon's own watcher and embedding worker (the test-made GGUF: random vectors, so the right passage comes
 * from the keyword side), questions answered through the skills' stage and the knowledge stage in front of a
 * scripted LLM that answers from the passages it is given, and the `knowledge` run event the HUD and phone show.
 */

let docs: string;
let modelPath: string;
const dirs: string[] = [];

before(async () => {
  docs = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-kd-docs-'));
  dirs.push(docs);
  [modelPath] = await Promise.all([ensureTinyGguf(), writeDocumentSet(docs)]);
});
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function knowledgeConfig(extra: Record<string, unknown> = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-kd-data-'));
  dirs.push(dataDir);
  // niceness 0: beside the other test files the 2 cores are always busy, and a niced worker would wait for minutes.
  return parseConfig({ dataDir, conversation: { followUpMs: 0 }, vad: { hangoverMs: 600, noSpeechTimeoutMs: 3000 }, knowledge: { folders: [docs], model: modelPath, gpu: 'cpu', minSimilarity: 1.01, settleMs: 50, niceness: 0 }, ...extra });
}

/** Answers like a model told to name its source: from the first passage it was given, or that it was given none. */
function answerFromPassages(question: string): string {
  const source = /\(1\) ([^:]+): "/.exec(question)?.[1];
  return source ? `According to the ${source}, it says so.` : 'I have no documents for that.';
}

const knowledgeEvents = (events: RunEvent[]) => events.filter((e): e is Extract<RunEvent, { type: 'knowledge' }> => e.type === 'knowledge');

// A deadline on each: a stuck embedding worker must fail the test, not hold the suite until CI's limit.
describe('questions about the documents, in the daemon (test-made embedding model: random vectors)', () => {
  test('typed questions through the HUD server: the right passage goes to the LLM, which names its source; a socket client gets the run event and the HUD lists file, page and snippet; nothing relevant is said so without the LLM', { timeout: 180_000 }, async (t: TestContext) => {
    const llm = new ScriptedResponder(answerFromPassages, 0);
    const { config } = { config: knowledgeConfig() };
    const hud = await startTestHud({ config: { dataDir: config.dataDir, knowledge: config.knowledge }, responder: llm, skills: true });
    t.after(() => hud.close());
    // The daemon's own watcher reads the folder from its start; the HUD shows it as a status until done.
    await until(hud.assistant, () => !hud.assistant.state.problems.some((p) => p.id === KNOWLEDGE_PROBLEM.indexing));
    const client = hud.connect();
    await client.hello;
    const events: RunEvent[] = [];
    hud.assistant.bus.subscribe((event) => events.push(event));

    const pressure = await hud.assistant.ask('what does the boiler manual say about the pressure');
    assert.equal(pressure.outcome, 'answered');
    assert.match(pressure.answer ?? '', /^According to the boiler manual, page 2/);
    const [found] = knowledgeEvents(events);
    assert.equal(found?.passages[0]?.file, 'boiler-manual.pdf');
    assert.equal(found.passages[0].page, 2);
    assert.match(found.passages[0].snippet, /1\.5 bar/);
    assert.ok(llm.questions[0]!.includes('between 1.0 and 1.5 bar'), 'the passage itself reached the LLM');
    // What the wall and the phone get, and what the HUD's conversation panel makes of it.
    await client.waitFor('run-event', (e: RunEvent) => e.type === 'run-end');
    const turn = client.received.filter((r) => r.name === 'run-event').reduce<TurnView[]>((turns, r) => addRunEvent(turns, r.payload as RunEvent), []).at(-1)!;
    assert.deepEqual(summarize(turn).sources?.map((source) => [source.file, source.page]), [['boiler-manual.pdf', 2], ...found.passages.slice(1).map((p) => [p.file, p.page])]);

    const renew = await hud.assistant.ask('when does the car insurance renew');
    assert.match(renew.answer ?? '', /car insurance, section "Renewal"/);
    assert.equal(knowledgeEvents(events)[1]?.passages[0]?.heading, 'Renewal');

    const asked = llm.questions.length;
    const nothing = await hud.assistant.ask('what do my documents say about the football world cup');
    assert.equal(nothing.answer, NOTHING_FOUND);
    assert.equal(llm.questions.length, asked, 'the LLM was not asked to guess');
    assert.deepEqual(knowledgeEvents(events)[2]?.passages, []);

    // A question that is not about documents goes to the LLM as it is (knowledge.always is off); a local skill stays local.
    await hud.assistant.ask('tell me a joke about penguins');
    assert.equal(llm.questions.at(-1)?.includes("household's documents"), false);
    const time = await hud.assistant.ask('what time is it');
    assert.match(time.answer ?? '', /^It's /);
    assert.equal(knowledgeEvents(events).length, 3);
  });

  test('a spoken question ("hey jarvis, what does the school letter say about Friday", real wake word and VAD; words from the script) retrieves the letter\'s Friday passage', { timeout: 180_000 }, async (t: TestContext) => {
    const [engines, audio] = await Promise.all([loadSpokenTurnEngines(), speak('hey jarvis, what does the school letter say about friday', { engine: 'espeak', voice: 'en-us', wordsPerMinute: 160 })]);
    t.after(() => engines.dispose());
    const { wake, vad, whisper, piper } = engines;
    const clock = new ManualClock(Date.now());
    const room = new Room({ clock });
    const sink = new VirtualSink({ speed: 1, sampleRate: 22_050, clock });
    const llm = new ScriptedResponder(answerFromPassages, 0);
    const transcriber = new ScriptTranscriber(whisper, room, [{ label: 'question', text: 'Hey Jarvis, what does the school letter say about Friday?' }]);
    const daemon = await createDaemon(knowledgeConfig(), { log: silentLogger, source: room, sink, clock, engines: { wake, vad, transcriber, synthesizer: piper, llm } });
    t.after(() => daemon.dispose());
    daemon.start();
    await daemon.knowledge!.idle();
    const events: RunEvent[] = [];
    daemon.assistant.bus.subscribe((event) => events.push(event));
    // Silence runs 10× faster than the real work it waits for (the question's embedding, on a loaded machine): a short
    // cap could end the room mid-turn, and the answer would then play on a clock that no longer moves (a hang).
    room.pause(600).say(audio, 'question').until(() => events.some((e) => e.type === 'run-end'), 1_500_000).pause(200);
    await daemon.run(new AbortController().signal);

    const [found] = knowledgeEvents(events);
    assert.ok(found, JSON.stringify(events.map((e) => e.type)));
    assert.equal(found.passages[0]?.file, 'school-letter.html');
    assert.equal(found.passages[0].heading, 'Friday 12 June');
    assert.match(found.passages[0].snippet, /closes at 1 pm/);
    const said = events.flatMap((e) => (e.type === 'sentence' ? [e.text] : [])).join(' ');
    assert.match(said, /^According to the Letter from Hillside Primary School, section "Friday 12 June"/);
    assert.ok(events.some((e) => e.type === 'tts-end' && e.audioMs > 0), 'the answer was spoken');
  });
});
