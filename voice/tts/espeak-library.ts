import { createRequire } from 'node:module';
import { unknownEspeakVoice } from './espeak.ts';

/**
 * espeak-ng's phonemizer called as a library, the way Piper calls it: libespeak-ng's espeak_TextToPhonemes, one
 * clause per call, in this process (koffi, an FFI with prebuilt binaries from npm, opens Debian's
 * libespeak-ng.so.1, which the espeak-ng package installs). Unlike the `espeak-ng --ipa` program it runs no
 * intonation pass ("Yes, sir." is sˌɜː as in Piper, not sˈɜː), spawns no process per sentence (0.1 ms a sentence
 * instead of several), and has no 1000-byte input lines. Where koffi or the library is missing, `open()` says why
 * and the program is used instead.
 */

/** One call per clause: espeak-ng advances the text pointer to the next clause, and to NULL after the last. */
type TextToPhonemes = (textPointer: unknown[], textMode: number, phonemeMode: number) => string | null;

interface EspeakLibrary {
  textToPhonemes: TextToPhonemes;
  setVoiceByName: (name: string) => number;
  setVoiceByLanguage: (language: string) => number;
  /** Makes a JS buffer a `void *` for the text pointer. */
  pointerTo: (buffer: Buffer) => unknown;
}

const AUDIO_OUTPUT_SYNCHRONOUS = 2;
const ESPEAK_CHARS_UTF8 = 1;
const ESPEAK_PHONEMES_IPA = 0x02;
/** Clauses one text may have: a guard against a pointer that never reaches NULL. */
const MAX_CLAUSES = 10_000;

let opened: { library: EspeakLibrary } | { reason: string } | undefined;
let currentVoice: string | undefined;

function open(): { library: EspeakLibrary } | { reason: string } {
  if (opened) return opened;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load('libespeak-ng.so.1');
    const initialize = lib.func('int espeak_Initialize(int output, int buflength, const char *path, int options)');
    // Registered by name for espeak_SetVoiceByProperties below.
    koffi.struct('espeak_VOICE', {
      name: 'const char *',
      languages: 'const char *',
      identifier: 'const char *',
      gender: 'uint8_t',
      age: 'uint8_t',
      variant: 'uint8_t',
      xx1: 'uint8_t',
      score: 'int',
      spare: 'void *',
    });
    const byProperties = lib.func('int espeak_SetVoiceByProperties(espeak_VOICE *voice)');
    const sampleRate = initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, null, 0) as number;
    if (sampleRate <= 0) throw new Error(`espeak_Initialize failed (${sampleRate}): is espeak-ng-data installed?`);
    opened = {
      library: {
        textToPhonemes: lib.func('const char *espeak_TextToPhonemes(_Inout_ void **textptr, int textmode, int phonememode)') as TextToPhonemes,
        setVoiceByName: lib.func('int espeak_SetVoiceByName(const char *name)') as (name: string) => number,
        setVoiceByLanguage: (language) =>
          byProperties({ name: null, languages: language, identifier: null, gender: 0, age: 0, variant: 0, xx1: 0, score: 0, spare: null }) as number,
        pointerTo: (buffer) => koffi.as(buffer, 'void *'),
      },
    };
  } catch (error) {
    opened = { reason: `espeak-ng's library could not be opened (${(error as Error).message})` };
  }
  return opened;
}

/** Why the library cannot be used here, or undefined when it can. */
export function espeakLibraryProblem(): string | undefined {
  const state = open();
  return 'reason' in state ? state.reason : undefined;
}

/**
 * The IPA of each clause of `text` as espeak-ng's library splits it, in voice `voice` (a name such as
 * "en-gb-x-rp", or a language such as "en-gb", as the espeak-ng program's -v takes them). Synchronous and fast;
 * throws if the library cannot be used (see espeakLibraryProblem), or `espeak-voice-unknown`.
 */
export function libraryClausePhonemes(text: string, voice: string): string[] {
  const state = open();
  if ('reason' in state) throw new Error(state.reason);
  const { library } = state;
  if (currentVoice !== voice) {
    // As the espeak-ng program does for -v: a voice's name first, then a language.
    if (library.setVoiceByName(voice) !== 0 && library.setVoiceByLanguage(voice) !== 0) {
      throw unknownEspeakVoice(voice);
    }
    currentVoice = voice;
  }
  // The space: espeak-ng (Debian's 1.51, and Piper's own) reads a character past the end of a text ending in two
  // dots and keeps it for the next text, which then starts with "dot"; a space there is harmless and changes nothing.
  const buffer = Buffer.from(`${text} \0`, 'utf8');
  const pointer = [library.pointerTo(buffer)];
  const clauses: string[] = [];
  for (let i = 0; i < MAX_CLAUSES && pointer[0] !== null; i++) clauses.push(library.textToPhonemes(pointer, ESPEAK_CHARS_UTF8, ESPEAK_PHONEMES_IPA) ?? '');
  return clauses;
}
