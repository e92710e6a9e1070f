import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../config/load.ts';
import { silentLogger } from '../base/log.ts';
import { GpuTelemetryReader } from '../core/skills/gpu-telemetry.ts';
import { SkillsRuntime } from '../core/skills/skills-runtime.ts';
import { Telemetry } from '../core/telemetry/telemetry.ts';
import { busyGtx1080Ti } from './fixtures/nvidia-smi.ts';

/**
 * The machine skills read the telemetry module (core/telemetry) as it runs: nvidia-smi is a script printing
 * recorded output of a GTX 1080 Ti (this machine has no NVIDIA GPU), parsed by the real monitor. Questions go
 * through the local intent path, as spoken.
 */

const dirs: string[] = [];
const telemetries: Telemetry[] = [];
after(() => {
  for (const t of telemetries) t.dispose();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function runtime(): SkillsRuntime {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-machine-'));
  dirs.push(dir);
  return new SkillsRuntime(parseConfig({ dataDir: dir, llm: { model: '/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf' } }), silentLogger);
}

function telemetryFrom(nvidiaSmi: string): GpuTelemetryReader {
  const telemetry = new Telemetry({ intervalMs: 200, nvidiaSmi });
  telemetries.push(telemetry);
  telemetry.start();
  return new GpuTelemetryReader({
    intervalMs: 200,
    source: (listener) => {
      telemetry.on('sample', listener);
      return () => telemetry.off('sample', listener);
    },
  });
}

async function say(skills: SkillsRuntime, text: string): Promise<string> {
  let answer = '';
  const responder = skills.responder({
    engine: 'none',
    load: async () => ({ summary: '' }),
    respond: () => {
      throw new Error(`"${text}" reached the LLM`);
    },
    resetConversation: async () => {},
    answerCutOff: async () => {},
    retract: async () => {},
    dispose: async () => {},
  });
  for await (const piece of responder.respond({ text, signal: new AbortController().signal })) answer += piece;
  return answer;
}

test('"how hot is the graphics card" and "how much VRAM is used" read nvidia-smi through the telemetry module (recorded GTX 1080 Ti output)', async () => {
  const skills = runtime();
  skills.useGpuTelemetry(telemetryFrom(busyGtx1080Ti([{ pid: 4242, usedMiB: 5200 }], { temperatureC: 71, seconds: 3 })));
  assert.match(await say(skills, 'How hot is the GPU?'), /^The NVIDIA GeForce GTX 1080 Ti is at (69|70|71|72|73) degrees\.$/);
  assert.equal(await say(skills, 'how much vram is used'), 'The NVIDIA GeForce GTX 1080 Ti is using 5.3 of 11 gigabytes of graphics memory.');
  skills.dispose();
});

test('without an NVIDIA GPU the skill says why it cannot tell, rather than a number', async () => {
  const skills = runtime();
  skills.useGpuTelemetry(telemetryFrom('/nonexistent/nvidia-smi'));
  assert.match(await say(skills, "what's the GPU temperature"), /^I can't read the graphics card: .+\.$/);
  skills.dispose();
});

test('which model is loaded, and switching models where no model manager is connected: honest answers', async () => {
  const skills = runtime();
  assert.equal(await say(skills, 'which model is loaded'), "I'm using Meta Llama 3.1 8B Instruct Q4_K_M, not loaded in this process. I hear with ggml base.en.");
  assert.match(await say(skills, 'switch to the big model'), /^I can't switch models by voice in this installation: the model manager is not connected\./);
  skills.dispose();
});
