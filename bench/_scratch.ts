import { performance } from 'node:perf_hooks';
import { parseConfig } from '../config/load.ts';
import { LlamaResponder } from '../core/llm/llama-responder.ts';
import { WhisperTranscriber } from '../voice/stt/whisper.ts';
import { PiperSynthesizer } from '../voice/tts/piper.ts';
import { speak } from '../test/fixtures/speech.ts';
import { ensureTinyGguf } from '../test/models/tiny-gguf.ts';
import { ensureTinyPiperVoice } from '../test/models/piper-voice.ts';
import { ensureTinyWhisperModel } from '../test/models/whisper-ggml.ts';
const [w, g, p] = await Promise.all([ensureTinyWhisperModel(), ensureTinyGguf(), ensureTinyPiperVoice()]);
const config = parseConfig({ stt: { model: w }, llm: { model: g, maxAnswerTokens: 48 }, tts: { voice: p } });
const whisper = new WhisperTranscriber({ model: w, threads: config.stt.threads, language: 'en', useGpu: false });
let t = performance.now(); await whisper.load(); console.log('whisper load', performance.now() - t);
const audio = await speak('hey jarvis, what time is it');
for (let i = 0; i < 3; i++) { t = performance.now(); const r = await whisper.transcribe(audio); console.log('stt', performance.now() - t, r.text, audio.length/16); }
const llm = new LlamaResponder(config.llm);
t = performance.now(); console.log(await llm.load(), performance.now() - t);
for (let i = 0; i < 3; i++) { t = performance.now(); let first = 0; let n = 0; let text='';
  for await (const piece of llm.respond({ text: 'what time is it', signal: new AbortController().signal })) { if (!n++) first = performance.now() - t; text += piece; }
  console.log('llm first', first, 'total', performance.now() - t, n, JSON.stringify(text)); }
const piper = new PiperSynthesizer({ voicePath: p, rate: 1 }); await piper.load();
for (let i = 0; i < 3; i++) { t = performance.now(); const a = await piper.synthesize({ text: 'It is half past ten in the morning, and the sun is out.' }); console.log('tts', performance.now() - t, a.samples.length / a.sampleRate); }
await Promise.all([whisper.dispose(), llm.dispose(), piper.dispose()]);
