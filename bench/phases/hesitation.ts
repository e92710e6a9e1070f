import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../base/log.ts';
import { silence, type SpeechVoice } from '../../test/fixtures/speech.ts';
import { VirtualSink } from '../../voice/audio/virtual-sink.ts';
import { openLiveSession } from '../lib/live-session.ts';
import { asWhisperWrites } from '../lib/script-words.ts';
import type { BenchSetup } from '../lib/setup.ts';
import { said } from '../lib/speech-sets.ts';

/**
 * Requests with a hesitation in the middle (500–700 ms of silence after a word that announces more: "set a timer
 * for … twelve minutes"), said in real time to the daemon under each turn-end rule in the same run: the rule that
 * listens to what was said (vad.turnEnd "meaning") and the fixed silence (vad.turnEnd "silence", vad.hangoverMs).
 * A request cut in its hesitation is answered half-said: the cut-off rate. Answers are stopped as soon as they
 * start, to keep the run short; what matters here is where each request ended.
 */

export const HESITATIONS: readonly { readonly first: string; readonly second: string; readonly pauseMs: number }[] = [
  { first: 'set a timer for', second: 'twelve minutes', pauseMs: 600 },
  { first: 'remind me to call mum and', second: 'buy some milk', pauseMs: 650 },
  { first: "what's the weather like in", second: 'Paris tomorrow', pauseMs: 550 },
  { first: 'turn on the', second: 'kitchen lights', pauseMs: 700 },
  { first: 'what is the capital of um', second: 'France', pauseMs: 600 },
];

export type TurnEndDesign = 'meaning' | 'silence';

export interface HesitationSample {
  readonly design: TurnEndDesign;
  readonly request: string;
  readonly voice: string;
  /** The request ended in its hesitation: the second part was not in its transcript. */
  readonly cut: boolean;
  /** Answers started in a pause and dropped because the person went on. */
  readonly speculationsDropped: number;
}

export interface HesitationResult {
  readonly samples: HesitationSample[];
  readonly incidents: string[];
}

const VOICES: readonly { name: string; voice: SpeechVoice }[] = [
  { name: 'espeak en-us', voice: { engine: 'espeak', voice: 'en-us', wordsPerMinute: 150 } },
  { name: 'flite slt', voice: { engine: 'flite', voice: 'slt' } },
];

export async function measureHesitation(setup: BenchSetup, options: { log: Logger }): Promise<HesitationResult> {
  const result: HesitationResult = { samples: [], incidents: [] };
  for (const design of ['meaning', 'silence'] as const) {
    const config = { ...setup.config, llm: { ...setup.config.llm, historyTurns: 0 }, vad: { ...setup.config.vad, turnEnd: design } };
    const session = await openLiveSession(setup, config, new VirtualSink({ speed: 1, sampleRate: 22_050 }), options.log);
    const { room, daemon, log } = session;
    // An answer is stopped as it starts: the figure is where the request ended, not what was said back.
    const stopAnswers = daemon.assistant.bus.subscribe((event) => {
      if (event.type === 'playback-start') daemon.assistant.stop();
    });
    try {
      await room.pause(1000);
      for (const { name, voice } of VOICES) {
        for (const { first, second, pauseMs } of HESITATIONS) {
          const [wake, one, two] = await Promise.all([said('hey jarvis', voice), said(first, voice), said(second, voice)]);
          const mark = log.mark();
          session.saying = `Hey Jarvis, ${first}`;
          void room.say(wake);
          void room.say(silence(150));
          await room.say(one);
          await room.pause(pauseMs);
          session.saying = `Hey Jarvis, ${asWhisperWrites(`${first} ${second}`)}`;
          await room.say(two);
          // Every run this request started has ended.
          const settled = () => {
            const runs = new Set(log.events.slice(mark).map((e) => e.runId));
            return runs.size > 0 && [...runs].every((run) => log.find(mark, (e) => e.runId === run && e.type === 'run-end'));
          };
          for (let waited = 0; !settled() && waited < 30_000; waited += 100) await sleep(100);
          await room.pause(500);
          const transcripts = log.events.slice(mark).flatMap((e) => (e.type === 'stt-end' ? [e.text] : []));
          if (transcripts.length === 0) {
            result.incidents.push(`${design}: "${first} … ${second}" (${name}) gave no transcript`);
            continue;
          }
          const lastWord = second.split(' ').at(-1)!.toLowerCase();
          result.samples.push({
            design,
            request: `${first} … ${second}`,
            voice: name,
            cut: !transcripts[0]!.toLowerCase().includes(lastWord),
            speculationsDropped: log.events.slice(mark).filter((e) => e.type === 'speculation-discarded').length,
          });
        }
      }
    } finally {
      stopAnswers();
      await session.close();
    }
  }
  return result;
}
