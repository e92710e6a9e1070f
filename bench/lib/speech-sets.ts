import { concat, ESPEAK_VOICES, FLITE_VOICES, mix, pinkNoise, silence, speak, type SpeechVoice } from '../../test/fixtures/speech.ts';
import { CAPTURE_SAMPLE_RATE } from '../../voice/ports.ts';
import { msToSamples, samplesToMs } from '../../voice/pcm.ts';
import { HOUSEHOLD, NEAR_MISSES, proseSentences, QUESTIONS, STOP_PHRASE, WAKE_PHRASE } from './corpus.ts';

/**
 * The generated audio every figure is measured on: espeak-ng and flite voices at two speeds, clean and under pink
 * noise (test/fixtures/speech.ts makes and caches the clips). Clips are trimmed to their speech, so where a
 * keyword or a request ends is known to the sample: that is the ground truth for endpoint and detection delays.
 */

export interface NamedVoice {
  readonly name: string;
  readonly voice: SpeechVoice;
}

const rate = CAPTURE_SAMPLE_RATE;
/** Pink noise for the "noisy" half: the level the wake-word tests use (peak −28 dBFS, RMS about −41 dBFS). */
const NOISE_PEAK_DBFS = -28;

/** Every voice at a slow and a fast speed: 6 espeak-ng + 4 flite voices × 2 speeds. */
export function voicesAtTwoSpeeds(): NamedVoice[] {
  const espeak = ESPEAK_VOICES.flatMap((voice) =>
    [140, 180].map((wpm): NamedVoice => ({ name: `espeak-ng ${voice} ${wpm} wpm`, voice: { engine: 'espeak', voice, wordsPerMinute: wpm } })),
  );
  const flite = FLITE_VOICES.flatMap((voice) =>
    [0.9, 1.15].map((speed): NamedVoice => ({ name: `flite ${voice} ×${speed}`, voice: { engine: 'flite', voice, speed } })),
  );
  return [...espeak, ...flite];
}

/** The people who talk to JARVIS in the turn figures. */
export const TURN_VOICES: NamedVoice[] = [
  { name: 'espeak-ng en-us 150 wpm', voice: { engine: 'espeak', voice: 'en-us', wordsPerMinute: 150 } },
  { name: 'espeak-ng en-gb 140 wpm', voice: { engine: 'espeak', voice: 'en-gb', wordsPerMinute: 140 } },
  { name: 'espeak-ng en-us+f3 160 wpm', voice: { engine: 'espeak', voice: 'en-us+f3', wordsPerMinute: 160 } },
  { name: 'espeak-ng en-gb-x-rp 140 wpm', voice: { engine: 'espeak', voice: 'en-gb-x-rp', wordsPerMinute: 140 } },
  { name: 'flite slt', voice: { engine: 'flite', voice: 'slt' } },
];

/** Trims leading and trailing quiet (10 ms windows under about −36 dBFS peak). */
export function trimSpeech(pcm: Int16Array): Int16Array {
  const window = msToSamples(10, rate);
  const loud = (start: number) => {
    for (let i = start; i < Math.min(pcm.length, start + window); i++) if (Math.abs(pcm[i]!) > 520) return true;
    return false;
  };
  let first = 0;
  while (first < pcm.length && !loud(first)) first += window;
  let last = Math.floor((pcm.length - 1) / window) * window;
  while (last > first && !loud(last)) last -= window;
  return pcm.slice(first, Math.min(pcm.length, last + window));
}

const spoken = new Map<string, Promise<Int16Array>>();

/** Trimmed speech; one synthesis per text and voice (speak() must not make the same clip twice at once). */
/** `text` in `voice`, trimmed so it starts and ends with speech (cached). */
export function said(text: string, voice: SpeechVoice): Promise<Int16Array> {
  const key = JSON.stringify([text, voice]);
  let clip = spoken.get(key);
  if (!clip) {
    clip = speak(text, voice).then(trimSpeech);
    spoken.set(key, clip);
  }
  return clip;
}

export function noise(seed = 1): Promise<Int16Array> {
  return pinkNoise(10_000, NOISE_PEAK_DBFS, seed);
}

/** Runs `tasks` with at most `limit` at a time, keeping their order. */
export async function inPool<T>(tasks: (() => Promise<T>)[], limit = 2): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await tasks[index]!();
      }
    }),
  );
  return results;
}

export interface PositiveClip {
  readonly label: string;
  readonly pcm: Int16Array;
  /** Sample where "hey jarvis" ends. */
  readonly keywordEnd: number;
  readonly keywordStart: number;
  readonly noisy: boolean;
}

/** "hey jarvis", alone and followed by a request, in every voice and speed, clean and noisy. */
export async function positiveSet(): Promise<PositiveClip[]> {
  const voices = voicesAtTwoSpeeds();
  const background = await noise(3);
  const variants = voices.flatMap((v, i) => [false, true].map((withRequest) => ({ v, request: withRequest ? QUESTIONS[i % QUESTIONS.length] : undefined })));
  const clips = await inPool(
    variants.map(({ v, request }) => async () => ({
      v,
      request,
      keyword: await said(WAKE_PHRASE, v.voice),
      rest: request ? await said(request, v.voice) : new Int16Array(0),
    })),
  );
  const lead = silence(1000);
  return clips.flatMap(({ v, request, keyword, rest }) =>
    [false, true].map((noisy): PositiveClip => {
      const tail = request ? concat(silence(150), rest) : new Int16Array(0);
      const clean = concat(lead, keyword, tail, silence(1500));
      return {
        label: `"${WAKE_PHRASE}${request ? `, ${request}` : ''}" ${v.name}${noisy ? ' + noise' : ''}`,
        pcm: noisy ? mix(clean, background) : clean,
        keywordStart: lead.length,
        keywordEnd: lead.length + keyword.length,
        noisy,
      };
    }),
  );
}

export interface NegativeStream {
  readonly pcm: Int16Array;
  /** Milliseconds of speech in it (gaps excluded). */
  readonly speechMs: number;
  readonly nearMisses: { readonly start: number; readonly end: number; readonly text: string }[];
  readonly utterances: number;
}

/**
 * At least `minSpeechMs` of speech that is not addressed to JARVIS: licence prose and household talk, with a near
 * miss ("hey travis", alone or with a request) twice per block, every voice and speed in turn, every other
 * block under noise. One continuous stream, as the daemon would hear it.
 */
export async function negativeStream(minSpeechMs: number): Promise<NegativeStream> {
  const voices = voicesAtTwoSpeeds();
  const prose = proseSentences();
  const background = await noise(5);
  const gap = silence(700);
  const blocks: Int16Array[] = [];
  const nearMisses: NegativeStream['nearMisses'] = [];
  let speechMs = 0;
  let samples = 0;
  let utterances = 0;
  let proseAt = 0;
  let household = 0;
  let nearMiss = 0;
  const takeProse = (words: number) => {
    const taken: string[] = [];
    let count = 0;
    while (count < words) {
      const sentence = prose[proseAt++ % prose.length]!;
      taken.push(sentence);
      count += sentence.split(' ').length;
    }
    return taken.join(' ');
  };
  for (let block = 0; speechMs < minSpeechMs; block++) {
    const { voice } = voices[block % voices.length]!;
    const nextNearMiss = () => {
      const phrase = NEAR_MISSES[nearMiss % NEAR_MISSES.length]!;
      const text = nearMiss++ % 2 === 0 ? phrase : `${phrase}, ${QUESTIONS[nearMiss % QUESTIONS.length]}`;
      return { text, nearMiss: true };
    };
    const householdText = () => [0, 1, 2].map(() => HOUSEHOLD[household++ % HOUSEHOLD.length]).join(' ');
    const plan = [
      { text: takeProse(90), nearMiss: false },
      nextNearMiss(),
      { text: householdText(), nearMiss: false },
      { text: takeProse(90), nearMiss: false },
      nextNearMiss(),
    ];
    const spoken = await inPool(plan.map((part) => () => said(part.text, voice)));
    const parts: Int16Array[] = [];
    let offset = samples;
    spoken.forEach((pcm, i) => {
      if (plan[i]!.nearMiss) nearMisses.push({ start: offset, end: offset + pcm.length, text: plan[i]!.text });
      parts.push(pcm, gap);
      offset += pcm.length + gap.length;
      speechMs += samplesToMs(pcm.length, rate);
      utterances++;
    });
    const clean = concat(...parts);
    blocks.push(block % 2 === 1 ? mix(clean, background) : clean);
    samples = offset;
  }
  return { pcm: concat(...blocks), speechMs, nearMisses, utterances };
}

export interface TurnClip {
  readonly voice: string;
  readonly question: string;
  readonly wake: Int16Array;
  readonly request: Int16Array;
  readonly stop: Int16Array;
}

/** "hey jarvis" + a request (+ "stop") per turn, each trimmed so its end is exact. */
export async function turnClips(count: number): Promise<TurnClip[]> {
  return inPool(
    Array.from({ length: count }, (_, i) => async () => {
      const { name, voice } = TURN_VOICES[i % TURN_VOICES.length]!;
      const question = QUESTIONS[i % QUESTIONS.length]!;
      return { voice: name, question, wake: await said(WAKE_PHRASE, voice), request: await said(question, voice), stop: await said(STOP_PHRASE, voice) };
    }),
  );
}

/** A recorded request as the voice loop hands it to Whisper: the wake word, the question, the endpoint's silence. */
export function requestAudio(clip: TurnClip, hangoverMs: number): Int16Array {
  return concat(silence(300), clip.wake, silence(150), clip.request, silence(hangoverMs));
}

/** `ms` of ordinary talk with no wake word and no near miss, for the daemon's idle cost while people talk. */
export async function ordinaryTalk(ms: number): Promise<Int16Array> {
  const voice: SpeechVoice = { engine: 'espeak', voice: 'en-gb', wordsPerMinute: 150 };
  const parts: Int16Array[] = [];
  let total = 0;
  for (let i = 0; total < msToSamples(ms, rate); i += 4) {
    const pcm = await said(HOUSEHOLD.slice(i % HOUSEHOLD.length, (i % HOUSEHOLD.length) + 4).join(' '), voice);
    parts.push(pcm, silence(500));
    total += pcm.length + msToSamples(500, rate);
  }
  return concat(...parts).subarray(0, msToSamples(ms, rate));
}
