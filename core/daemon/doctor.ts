import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { JarvisConfig } from '../../config/schema.ts';
import { MicrophoneSource } from '../../voice/audio/mic-source.ts';
import { SpeakerSink } from '../../voice/audio/speaker-sink.ts';
import { levelDbfs } from '../../voice/pcm.ts';
import { createTranscriber } from '../../voice/stt/select.ts';
import { openAiTranscriber } from '../../voice/stt/openai.ts';
import { OpenAiSynthesizer } from '../../voice/tts/openai.ts';
import { createEspeak, createSynthesizer } from '../../voice/tts/select.ts';
import { SileroVad } from '../../voice/vad/silero.ts';
import { createWakeDetector } from '../../voice/wake/select.ts';
import { describeError, JarvisError } from '../../base/errors.ts';
import { LlamaResponder } from '../llm/llama-responder.ts';
import { openAiResponder } from '../llm/openai-responder.ts';
import { checkVisionRole } from '../llm/vision.ts';
import { checkCodeRole } from '../llm/role-router.ts';
import { modelFileFix } from '../../models/model-fix.ts';
import { ModelStore } from '../../models/store.ts';
import { describeHomeAssistant } from '../home/home-assistant.ts';
import { commandLocalJarvis } from '../server/local-client.ts';
import { checkMcpServer, configuredMcpServers } from '../mcp/mcp-servers.ts';
import { checkBroker } from '../mqtt/broker-check.ts';
import type { Logger } from '../../base/log.ts';

/**
 * `jarvis doctor`: tries every part for real (opens the microphone, plays silence, loads every model) and says,
 * for each failure, what to do. Exit status 1 when anything needed for a spoken answer is broken.
 */

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** Not needed for a spoken answer (a missing GPU, the fallback voice). */
  optional?: boolean;
  detail: string;
  fix?: string;
}

const run = promisify(execFile);

async function check(name: string, body: () => Promise<string>, optional = false, fixFor?: (error: unknown) => string | undefined): Promise<DoctorCheck> {
  try {
    return { name, ok: true, optional, detail: await body() };
  } catch (error) {
    const { message, fix: engineFix } = describeError(error);
    const fix = fixFor?.(error) ?? engineFix;
    // A part that works, but worse than configured, does not stop a spoken answer.
    const degraded = (error as { degraded?: unknown } | undefined)?.degraded === true;
    return { name, ok: false, optional: optional || degraded, detail: message, ...(fix ? { fix } : {}) };
  }
}

export async function doctorChecks(config: JarvisConfig, log: Logger): Promise<DoctorCheck[]> {
  // A model the catalog knows is fixed by one command (`jarvis models pull <id>`), whatever the engine suggests.
  const store = ModelStore.fromConfig(config);
  const modelFix = (error: unknown) => modelFileFix(store, error);
  const checks: Promise<DoctorCheck>[] = [
    check('microphone', async () => {
      const mic = new MicrophoneSource({ backend: config.audio.input.backend, device: config.audio.input.device, noAudioTimeoutMs: 2500 });
      const controller = new AbortController();
      const heard: Int16Array[] = [];
      let samples = 0;
      for await (const chunk of mic.chunks(controller.signal)) {
        heard.push(chunk);
        samples += chunk.length;
        if (samples >= 16_000) controller.abort();
      }
      const level = levelDbfs(Int16Array.from(heard.flatMap((c) => Array.from(c))));
      return `${mic.description}: 1 s captured, level ${level.toFixed(0)} dBFS${level < -85 ? ' (digital silence: is it muted?)' : ''}`;
    }),
    check('speaker', async () => {
      const speaker = new SpeakerSink({ backend: config.audio.output.backend, device: config.audio.output.device });
      try {
        await speaker.play({ samples: new Int16Array(2205), sampleRate: 22_050 });
        return `${speaker.description}: played 100 ms of silence`;
      } finally {
        await speaker.close();
      }
    }),
    check('NVIDIA GPU', async () => {
      const { stdout } = await run('nvidia-smi', ['--query-gpu=name,memory.total,memory.used,driver_version', '--format=csv,noheader'], { timeout: 5000 });
      return stdout.trim().split('\n').join('; ');
    }, true).then((c) => (c.ok ? c : { ...c, detail: 'nvidia-smi not found or failed: no NVIDIA GPU or driver', fix: 'Without a GPU the LLM runs on the CPU (slower). Install the NVIDIA driver if this machine has a GPU.' })),
    check('wake word', async () => {
      const wake = await createWakeDetector(config, log);
      await wake.dispose();
      return `${wake.engine} "${wake.keyword}" loaded`;
    }),
    check('VAD', async () => {
      const vad = await SileroVad.create(config.vad.model);
      await vad.dispose();
      return `${vad.engine} loaded`;
    }),
    check('speech to text', async () => {
      // A speech-to-text server is asked to transcribe for real: reachable, key taken, model there, how fast.
      if (config.stt.engine === 'openai') return openAiTranscriber(config.stt).check();
      const whisper = createTranscriber(config.stt, log);
      try {
        await whisper.load();
        // The prebuilt binding standing in for the build for this CPU works, only about 10× slower: said, not a failure.
        const { fallback } = whisper;
        if (fallback) throw Object.assign(new JarvisError('stt-degraded', whisper.description, fallback.fix), { degraded: true });
        return whisper.description;
      } finally {
        await whisper.dispose();
      }
    }, false, modelFix),
    ...(config.llm.backend === 'openai'
      ? [
          check('model server', async () => {
            const server = openAiResponder(config.llm);
            try {
              const { summary } = await server.load();
              return `${summary}; first token in ${Math.round(await server.firstTokenMs())} ms`;
            } finally {
              await server.dispose();
            }
          }, config.llm.fallback === 'local'),
        ]
      : []),
    ...(config.llm.backend === 'local' || config.llm.fallback === 'local'
      ? [
          check(config.llm.backend === 'local' ? 'language model' : 'local model (fallback)', async () => {
            const llm = new LlamaResponder(config.llm, config.llm.threads ? { threads: config.llm.threads } : {});
            try {
              const { summary, warning } = await llm.load();
              // Answering on the CPU after the GPU backend crashed works, only slower: said, but not a failure.
              if (warning) throw Object.assign(new JarvisError('llm-degraded', `${summary}: ${warning.message}`, warning.fix), { degraded: true });
              return summary;
            } finally {
              await llm.dispose();
            }
          }, false, modelFix),
        ]
      : []),
    // Photos from the phone (llm.roles.vision): asked about a test picture for real.
    ...(config.llm.roles.vision ? [check('vision model', () => checkVisionRole(config.llm), true, modelFix)] : []),
    // The code role (llm.roles.code): when it cannot answer, the chat model does, so it is not required.
    ...(config.llm.roles.code ? [check('code model', () => checkCodeRole(config.llm), true, modelFix)] : []),
    check('voice', async () => {
      const choice = createSynthesizer(config.tts, log);
      try {
        await choice.synthesizer.load();
        // A speech server says a word for real; espeak-ng stands in for the sentences it cannot say.
        if (choice.synthesizer instanceof OpenAiSynthesizer) return await choice.synthesizer.check();
      } finally {
        await choice.synthesizer.dispose();
      }
      if (choice.missing) throw new JarvisError('tts-voice', choice.reason, modelFileFix(store, choice.missing) ?? choice.missing.fix);
      return choice.reason;
    }, true, modelFix),
    check('fallback voice (espeak-ng)', async () => {
      const espeak = createEspeak(config.tts);
      await espeak.load();
      return `espeak-ng voice ${config.tts.espeakVoice}`;
    }),
    // Home Assistant's REST API with the saved token: what device requests go to first.
    ...(config.home.url && config.home.token
      ? [
          check('Home Assistant', () => describeHomeAssistant(config.home), true),
        ]
      : []),
    // Home Assistant over MQTT: the broker answers, takes the login, and lets JARVIS publish and subscribe.
    ...(config.mqtt.url ? [check('MQTT broker', () => checkBroker(config.mqtt), true)] : []),
    // Each MCP server: connected or why not, and its tools with their policies.
    ...configuredMcpServers(config).map((server) => check(`MCP server ${server.name}`, () => checkMcpServer(server, config, log), true)),
    // A JARVIS running here whose first-run downloads failed tries them again now, as "Try again now" on the HUD does.
    check('running JARVIS', async () => {
      const reply = await commandLocalJarvis(config, 'retry-downloads', {});
      if (!reply.reached) throw new JarvisError('not-running', `not running here (${reply.url}: ${reply.reason})`, 'Start it with `jarvis start` (or `npm start`).');
      const running = reply.assistant ? `running at ${reply.url}, ${reply.assistant.phase}` : `running at ${reply.url}`;
      if (!reply.ack.ok) return `${running} (it did not take the request to retry downloads: ${reply.ack.message})`;
      return reply.ack.retried ? `${running}; asked it to try its failed downloads again now` : running;
    }, true),
  ];
  return Promise.all(checks);
}

export async function runDoctor(config: JarvisConfig, log: Logger, options: { json: boolean }): Promise<boolean> {
  const checks = await doctorChecks(config, log);
  // A missing Piper voice is optional because espeak-ng stands in for it; espeak-ng itself is not.
  const ok = checks.every((c) => c.ok || c.optional);
  if (options.json) {
    console.log(JSON.stringify({ ok, checks }, null, 2));
    return ok;
  }
  for (const c of checks) {
    console.log(`${c.ok ? '✔' : c.optional ? '·' : '✘'} ${c.name.padEnd(27)} ${c.detail}`);
    if (!c.ok && c.fix) console.log(`  ${' '.repeat(27)} fix: ${c.fix}`);
  }
  console.log(ok ? '\nEverything needed for a spoken answer works.' : '\nSome parts need fixing (see "fix:" above).');
  return ok;
}
