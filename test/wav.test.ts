import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AudioFormatError } from '../base/errors.ts';
import { decodeWav, encodeWav, readWavFile } from '../voice/wav.ts';
import { levelDbfs } from '../voice/pcm.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-wav-'));
const sox = (...args: string[]) => execFileSync('sox', args);

/** A 440 Hz tone made by sox in the given format. */
function tone(name: string, ...format: string[]): string {
  const file = path.join(dir, name);
  sox('-n', ...format, file, 'synth', '1.0', 'sine', '440', 'vol', '0.5');
  return file;
}

/** Dominant frequency by zero crossings (good enough for a pure tone). */
function frequency(samples: Int16Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if ((samples[i - 1]! < 0) !== (samples[i]! < 0)) crossings++;
  return crossings / 2 / (samples.length / rate);
}

describe('WAV input', () => {
  for (const [name, format] of [
    ['16k mono s16', ['-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer']],
    ['44.1k stereo 24-bit', ['-r', '44100', '-c', '2', '-b', '24', '-e', 'signed-integer']],
    ['48k mono float', ['-r', '48000', '-c', '1', '-b', '32', '-e', 'floating-point']],
    ['8k mono mu-law', ['-r', '8000', '-c', '1', '-e', 'mu-law']],
    ['22.05k mono 8-bit', ['-r', '22050', '-c', '1', '-b', '8', '-e', 'unsigned-integer']],
  ] as const) {
    test(`${name} becomes 16 kHz mono 16-bit with pitch and level kept`, async () => {
      const pcm = await readWavFile(tone(`${name.replace(/\W+/g, '-')}.wav`, ...format));
      assert.ok(Math.abs(pcm.length - 16000) <= 16 * 5, `${pcm.length} samples`);
      assert.ok(Math.abs(frequency(pcm, 16000) - 440) < 8, `${frequency(pcm, 16000)} Hz`);
      assert.ok(Math.abs(levelDbfs(pcm) - -9) < 1.5, `${levelDbfs(pcm)} dBFS`);
    });
  }

  test('IMA ADPCM (a compressed codec) is refused with how to convert it', async () => {
    // wavefile 11 decodes sox's ADPCM blocks with the wrong block length (the pitch drops ~2 %): refuse, not garble.
    await assert.rejects(readWavFile(tone('adpcm.wav', '-r', '16000', '-c', '1', '-e', 'ima-adpcm')), (e: AudioFormatError) => /format tag 17/.test(e.message));
  });

  test('an MP3 inside a WAV container is refused with how to convert it', () => {
    const file = tone('plain.wav', '-r', '16000', '-c', '1', '-b', '16');
    const bytes = fs.readFileSync(file);
    bytes.writeUInt16LE(0x55, 20); // WAVE_FORMAT_MPEGLAYER3
    assert.throws(() => decodeWav(bytes, 'mp3.wav'), (e: AudioFormatError) => e instanceof AudioFormatError && /format tag 85/.test(e.message) && /sox/.test(e.fix));
  });

  test('a file that is not a WAV is refused', async () => {
    const file = path.join(dir, 'notes.wav');
    fs.writeFileSync(file, 'these are my notes, not audio');
    await assert.rejects(readWavFile(file), (e: AudioFormatError) => e instanceof AudioFormatError && /not a readable WAV/.test(e.message));
    await assert.rejects(readWavFile(path.join(dir, 'absent.wav')), /ENOENT/);
  });

  test('encode then decode is lossless at 16 kHz', () => {
    const samples = Int16Array.from({ length: 1600 }, (_, i) => Math.round(Math.sin(i / 5) * 12000));
    assert.deepEqual(decodeWav(encodeWav({ samples, sampleRate: 16000 })), samples);
  });
});
