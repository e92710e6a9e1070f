import fs from 'node:fs';
import { systemClock, type Clock } from '../../base/clock.ts';
import { DisposalStack } from '../../base/disposal.ts';
import { describeError } from '../../base/errors.ts';
import { modelFileFix } from '../../models/model-fix.ts';
import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import type { AudioSink, AudioSource, Synthesizer, Transcriber, VoiceActivityDetector, WakeWordDetector } from '../../voice/ports.ts';
import { configuredSpeechToText } from '../../voice/stt/select.ts';
import { FallbackSynthesizer } from '../../voice/tts/fallback.ts';
import { createEspeak, createSynthesizer } from '../../voice/tts/select.ts';
import { SileroVad } from '../../voice/vad/silero.ts';
import { createWakeDetector } from '../../voice/wake/select.ts';
import { connectModelManager, firstRunDownloads } from '../live-models/daemon-hooks.ts';
import { LiveModels } from '../live-models/live-models.ts';
import { liveModelSelector, liveModelStatus } from '../live-models/skill-providers.ts';
import { withRoles } from '../live-models/role-model.ts';
import { Assistant } from '../pipeline/assistant.ts';
import { EchoGuard } from '../pipeline/echo-guard.ts';
import type { Problem } from '../protocol/state.ts';
import { MODEL_PROBLEM } from '../protocol/wire.ts';
import type { Responder } from '../responder.ts';
import { RemoteAccess, type RemoteAccessOptions } from '../server/remote-access.ts';
import { SkillsRuntime } from '../skills/skills-runtime.ts';
import { watchConfigFile } from './config-watch.ts';
import { connectGpuGovernor } from './gpu-link.ts';
import { connectSkills } from './skills-link.ts';
import { connectConfirmations } from './mcp-link.ts';
import { McpTools } from '../mcp/mcp-tools.ts';
import { ConfirmingResponder } from '../mcp/confirming-responder.ts';
import { WithToolsResponder } from '../mcp/with-tools.ts';
import { DeviceIntentResponder } from '../home/device-intents.ts';
import { configuredMcpServers } from '../mcp/mcp-servers.ts';
import { connectMqtt } from '../mqtt/mqtt-device.ts';
import { serveWyoming } from '../wyoming/serve.ts';
import { connectSatellites } from '../satellite/satellites.ts';
import type { WyomingServer } from '../wyoming/server.ts';
import { FallbackResponder } from '../llm/fallback-responder.ts';
import { openAiResponder } from '../llm/openai-responder.ts';
import { withVision } from '../llm/vision.ts';
import { HomeAssistant } from '../home/home-assistant.ts';
import { HomeAssistantResponder } from '../home/home-assistant-responder.ts';
import { connectKnowledge, openDaemonKnowledge, withKnowledge } from '../knowledge/daemon-link.ts';
import type { Knowledge } from '../knowledge/knowledge.ts';

/**
 * The one place JARVIS is put together: the engines the config asks for, the model manager, the answer chain
 * (local skills in front of the pooled LLM), the assistant, and, when asked, the HUD server. Every command
 * (`jarvis start`, `turn`, `ask`) and the benchmark build it here, differing only in the options below; tests
 * put their own engines in through `engines`. What it opens goes on one disposal stack, closed in reverse.
 *
 * A model that cannot be loaded does not stop JARVIS: it becomes a problem (what is wrong, how to fix it) and that
 * stage apologises until the file is there, while the rest works. Only a wake word or VAD that cannot run at all
 * is fatal for a daemon that listens, since without them there is nothing to listen with.
 */

export interface DaemonOptions {
  readonly log: Logger;
  /** Where requests are heard (microphone, recording, stdin). None: typed and recorded requests only. */
  readonly source?: AudioSource;
  /** Where answers are played. None: text answers only. The caller owns it (and closes it). */
  readonly sink?: AudioSink;
  /** Wake word, VAD and speech to text: for a live source or a recorded request. Default: with a source. */
  readonly hear?: boolean;
  /**
   * Load the LLM at start (a daemon: the first question must not wait for it), or on the first question the local
   * skills do not answer (`jarvis ask "what time is it"` never loads it).
   */
  readonly loadLlm?: 'at-start' | 'when-asked';
  /** Serve the HUD and the phone remote. */
  readonly screens?: boolean | RemoteAccessOptions;
  /** On run(): download missing models in the background (a first run), or say what to fetch and why not. */
  readonly firstRun?: { readonly download: boolean; readonly why: string };
  /**
   * Serve the wake word, speech to text and voice over Wyoming when wyoming.enabled (`jarvis start` only: a
   * `jarvis ask` beside the running daemon must not try to take its port).
   */
  readonly wyoming?: boolean;
  /** Link the satellites in other rooms (satellites[]; `jarvis start` only, like `wyoming`). */
  readonly satellites?: boolean;
  /** Run-event times, retries and ringing (the system clock; audio time in a replayed test). */
  readonly clock?: Clock;
  /** The config file the settings came from: its later edits are checked and shown (core/daemon/config-watch.ts). */
  readonly configFile?: string;
  /**
   * Engines to use instead of the configured ones (tests). `llm` replaces the pooled LLM. They stay the caller's:
   * the daemon does not dispose them, and the model manager does not swap them.
   */
  readonly engines?: {
    readonly wake?: WakeWordDetector;
    readonly vad?: VoiceActivityDetector;
    readonly transcriber?: Transcriber;
    readonly synthesizer?: Synthesizer;
    readonly llm?: Responder;
  };
}

export interface Daemon {
  /** The config with the models chosen by `jarvis models use` applied. */
  readonly config: JarvisConfig;
  readonly assistant: Assistant;
  /** The wake word and VAD the assistant listens with (with `hear`). */
  readonly listening: ListeningEngines;
  readonly models: LiveModels;
  /** Off with skills.enabled = false. */
  readonly skills: SkillsRuntime | undefined;
  /** With `screens`, once its server started. */
  readonly remote: RemoteAccess | undefined;
  /** The MCP servers' tools (mcp.servers, Home Assistant's with home.mcp), connecting in the background; none configured: undefined. */
  readonly mcp: McpTools | undefined;
  /** With `wyoming` and wyoming.enabled, once its server started. */
  readonly wyoming: WyomingServer | undefined;
  /** Local knowledge (knowledge.folders or `jarvis docs add`), when there are folders and the embedding model. */
  readonly knowledge: Knowledge | undefined;
  /** One line per stage, for the start-up log. */
  readonly summaries: readonly string[];
  /**
   * Starts what a running daemon does besides listening: timers ring, the stored speaker level applies, the model
   * choice of other processes is followed, first-run models download. Once; run() calls it.
   */
  start(): void;
  /** start(), then listens until `signal` aborts or the source ends (a recording). */
  run(signal: AbortSignal): Promise<void>;
  dispose(): Promise<void>;
}

export async function createDaemon(config: JarvisConfig, options: DaemonOptions): Promise<Daemon> {
  const { log, source, sink } = options;
  const clock = options.clock ?? systemClock;
  const stack = new DisposalStack((error) => log.warn({ err: describeError(error) }, 'error while shutting down'));
  try {
    return await assemble(config, options, clock, stack);
  } catch (error) {
    await stack.dispose();
    throw error;
  }

  async function assemble(config: JarvisConfig, options: DaemonOptions, clock: Clock, stack: DisposalStack): Promise<Daemon> {
    const given = options.engines ?? {};
    const hear = options.hear ?? source !== undefined;
    const problems: Problem[] = [];
    const summaries: string[] = [];

    // The model files come from `jarvis models use` when a model was chosen there, else from the config.
    const models = stack.use(new LiveModels(config, log));
    // A model the catalog knows is fixed by one command (`jarvis models pull <id>`), whatever the engine suggests.
    const problem = (id: string, error: unknown) => {
      const { message, fix } = describeError(error);
      problems.push({ id, message, fix: modelFileFix(models.store, error) ?? fix ?? 'See the log for details.', blocking: false });
    };
    // A first run picks the models for this machine before anything loads, so every stage (and every problem)
    // names the model that will be used; the downloads start with the daemon.
    const plan = options.firstRun
      ? await models.planDownloads().catch((error: unknown) => {
          log.warn({ err: describeError(error) }, 'could not plan the first-run downloads');
          return undefined;
        })
      : undefined;
    const chosen = models.effectiveConfig;

    const listening = hear ? await listeningEngines(config, log, given, stack, sink !== undefined) : {};
    if (listening.wake && listening.vad) {
      summaries.push(`wake word: ${listening.wake.engine} "${listening.wake.keyword}" (threshold ${config.wake.threshold})`, `VAD: ${listening.vad.engine}`);
    }
    const whisper = hear && !given.transcriber ? configuredSpeechToText(chosen.stt, log) : undefined;
    // A speech server's model is the server's: the model manager swaps only a Whisper of ours.
    const transcriber = whisper ? stack.use(whisper.engine === 'openai' ? whisper : models.wrapTranscriber(whisper)) : given.transcriber;

    // Everyday requests are answered by local skills before (and without) the LLM; the LLM may call them too.
    const skills = config.skills.enabled ? stack.use(new SkillsRuntime(config, log, { clock })) : undefined;
    if (skills) {
      problems.push(...skills.problems);
      skills.providers.models = liveModelStatus(models);
      skills.providers.modelSelector = liveModelSelector(models);
    }
    // Each request goes to its role's model (llm.roles: "write a script…" to the code model), the others to chat.
    const llm = given.llm ?? withRoles(config.llm, answeringModel(config, models.responder, stack), models, (role) => stack.use(role), log);
    // MCP servers' tools (core/mcp), connecting in the background: offered to the LLM beside the skills, called
    // directly for device phrases (after the local skills), and a "yes"/"no" to a confirmation goes first of all.
    const mcp = mcpTools(config, log, clock, stack);
    const toTools = mcp ? new WithToolsResponder(llm, mcp) : llm;
    // A changed tool list is evaluated by the local model between questions, not by the next question.
    if (mcp && !given.llm) {
      const offer = () => void models.offerTools(mcp.definitions).catch((error: unknown) => log.warn({ err: describeError(error).message }, 'could not preload the MCP tools'));
      mcp.on('changed', offer);
      stack.defer(() => mcp.off('changed', offer));
    }
    // The household's documents (core/knowledge): their passages go with the questions about them, after the local skills.
    const knowledge = await openDaemonKnowledge(config, log, problems);
    if (knowledge) stack.defer(() => knowledge.dispose());
    const toLlm = knowledge ? withKnowledge(toTools, knowledge.knowledge, config, log) : toTools;
    const local = skills ? skills.responder(toLlm) : toLlm;
    const home = withHomeAssistant(config, mcp ? new DeviceIntentResponder(local, mcp, config.home.area ? { area: config.home.area } : {}) : local, clock, log);
    const confirming = mcp ? new ConfirmingResponder(home, mcp.confirmations) : home;
    // A question with a photo goes to the vision role (llm.roles.vision) before anything else sees it.
    const responder = withVision(config.llm, confirming);
    stack.defer(() => responder.disposeVision());
    models.responder.subscribe((event) => {
      if (event.type === 'restarted') log.warn({ ms: Math.round(event.ms), attempt: event.attempt }, `LLM worker restarted: ${event.summary}`);
      else if (event.type === 'worker-exit') log.error({ during: event.during }, `LLM worker stopped: ${event.detail}`);
      else if (event.type === 'restart-failed') log.error({ err: describeError(event.error) }, 'LLM worker restart failed');
    });

    // A voice for the speaker, and for Home Assistant over Wyoming (a JARVIS box serving only that has no speaker).
    const linksSatellites = options.satellites === true && config.satellites.length > 0;
    const speaks = sink !== undefined || (options.wyoming === true && config.wyoming.enabled) || linksSatellites;
    const voice = speaks && !given.synthesizer ? createSynthesizer(chosen.tts, log) : undefined;
    if (voice?.missing) problems.push({ id: MODEL_PROBLEM.tts, message: voice.reason, fix: modelFileFix(models.store, voice.missing) ?? voice.missing.fix, blocking: false });

    const [stt, answer, tts] = await Promise.allSettled([
      whisper?.load().then(() => summaries.push(`STT: ${whisper.description}`)),
      options.loadLlm === 'when-asked'
        ? undefined
        : responder.load().then((info) => {
            summaries.push(`LLM: ${info.summary}`);
            // The model server down at start while the local model answers (llm.fallback). The local model's own
            // warnings (a GPU fallback) reach the assistant through the model manager's pool events.
            if (info.warning && config.llm.backend === 'openai') problems.push({ id: MODEL_PROBLEM.llm, ...info.warning, blocking: false });
          }),
      voice?.synthesizer.load().then(() => summaries.push(voice.missing ? `TTS: espeak-ng voice ${config.tts.espeakVoice} until the Piper voice is there` : `TTS: ${voice.reason}`)),
    ]);
    if (stt.status === 'rejected') problem(MODEL_PROBLEM.stt, stt.reason);
    if (answer.status === 'rejected') problem(MODEL_PROBLEM.llm, answer.reason);
    const synthesizer = voice ? await speakingVoice(voice.synthesizer, tts) : speaks ? given.synthesizer : undefined;

    /** The voice, swappable by the model manager, with espeak-ng behind it; espeak-ng alone if it failed to load. */
    async function speakingVoice(loaded: Synthesizer, result: PromiseSettledResult<unknown>): Promise<Synthesizer> {
      const espeak = createEspeak(config.tts);
      if (result.status === 'rejected') {
        // A broken Piper voice must not leave JARVIS mute.
        problem(MODEL_PROBLEM.tts, result.reason);
        await loaded.dispose().catch(() => {});
        await espeak.load().catch((error: unknown) => problem('tts-espeak', error));
        summaries.push(`TTS: espeak-ng voice ${config.tts.espeakVoice} (the configured voice failed to load)`);
        return stack.use(espeak);
      }
      const swappable = stack.use(loaded.engine === 'openai' ? loaded : models.wrapSynthesizer(loaded));
      if (loaded.engine === espeak.engine) return swappable;
      await espeak.load().catch((error: unknown) => problem('tts-espeak', error));
      return new FallbackSynthesizer(swappable, stack.use(espeak));
    }

    const echoGuard = listening.reference && sink ? stack.use(new EchoGuard(sink, listening.reference, { clock })) : undefined;
    if (source) summaries.push(`audio in: ${source.description}`);
    if (sink) summaries.push(`audio out: ${sink.description}`);

    const assistant = new Assistant(
      {
        ...(source ? { source } : {}),
        ...(sink ? { sink } : {}),
        ...(listening.wake ? { wake: listening.wake } : {}),
        ...(listening.vad ? { vad: listening.vad } : {}),
        ...(transcriber ? { transcriber } : {}),
        responder,
        ...(synthesizer && sink ? { synthesizer } : {}),
        ...(echoGuard ? { echoGuard } : {}),
      },
      config,
      log,
      { clock },
    );
    stack.defer(() => assistant.dispose());
    for (const line of summaries) log.info(line);
    for (const found of problems) assistant.reportProblem(found);
    stack.defer(connectModelManager(models, assistant, log));

    // Home Assistant's voice pipeline uses the same Whisper and voice (swapped with them) and its own wake detectors.
    const wyoming = options.wyoming && config.wyoming.enabled
      ? await serveWyoming(config, {
          engines: {
            ...(transcriber ? { transcriber } : {}),
            ...(synthesizer ? { synthesizer } : {}),
            createWakeDetector: () => createWakeDetector(config, log),
          },
          config: () => models.effectiveConfig,
          log,
          onProblem: (found) => assistant.reportProblem(found),
        })
      : undefined;
    if (wyoming) stack.defer(() => wyoming.close());

    // Satellites in other rooms: heard with their own wake word detector and VAD, answered on their speakers.
    const satellites = linksSatellites
      ? connectSatellites(config, {
          assistant,
          synthesizer,
          createWakeDetector: () => createWakeDetector(config, log),
          createVad: () => SileroVad.create(config.vad.model),
          clock,
          log,
        })
      : undefined;
    if (satellites) stack.defer(() => satellites.dispose());

    let remote: RemoteAccess | undefined;
    if (options.screens) {
      remote = new RemoteAccess(config, log, options.screens === true ? {} : options.screens);
      stack.defer(() => remote?.close());
      await remote.start(assistant, { manager: models, llm: responder, ...(sink ? { speaker: sink } : {}), ...(knowledge ? { documents: knowledge.knowledge } : {}) });
      // The GPU's heat and memory, from the same telemetry the HUD shows.
      if (remote.feed) stack.defer(connectGpuGovernor(remote.feed, assistant, models.pool, config, log));
    }
    if (mcp) stack.defer(connectConfirmations(mcp.confirmations, assistant, synthesizer && sink ? { synthesizer, sink } : undefined, log, remote?.feed));

    let started = false;
    const daemon: Daemon = {
      config: chosen,
      assistant,
      listening: { ...(listening.wake ? { wake: listening.wake } : {}), ...(listening.vad ? { vad: listening.vad } : {}) },
      models,
      skills,
      remote,
      wyoming,
      knowledge: knowledge?.knowledge,
      mcp,
      summaries,
      start() {
        if (started) return;
        started = true;
        models.watch();
        if (options.configFile && fs.existsSync(options.configFile)) stack.defer(watchConfigFile(options.configFile, assistant, log));
        if (options.firstRun) {
          // In the background: the daemon listens (and says it is still downloading) while the models arrive.
          void firstRunDownloads(models, log, { ...options.firstRun, retryMs: config.models.downloadRetryMs }, plan).catch((error: unknown) => log.error({ err: error }, 'first-run model downloads failed'));
        }
        // Timers ring through the assistant; the stored speaker level sets its volume; GPU answers read the HUD's telemetry.
        const link = skills && synthesizer && sink ? connectSkills(skills, assistant, { synthesizer, sink }, config, log, remote?.feed) : undefined;
        if (link) {
          stack.defer(() => link.dispose());
          link.start();
        }
        // Home Assistant sees JARVIS over MQTT (mqtt.url): connecting never waits, a broker that is down is a problem.
        const mqtt = connectMqtt(config, { assistant, ...(synthesizer && sink ? { voice: { synthesizer, sink } } : {}), ...(skills ? { timers: skills.timers } : {}), ...(remote?.feed ? { feed: remote.feed } : {}) }, log);
        if (mqtt) stack.defer(() => mqtt.dispose());
        // Documents are read in the background, never while a turn runs; the HUD shows how far.
        if (knowledge) stack.defer(connectKnowledge(knowledge, assistant, log));
      },
      async run(signal) {
        const listened = assistant.listen(signal);
        daemon.start();
        await listened;
      },
      dispose: () => stack.dispose(),
    };
    return daemon;
  }
}

export interface ListeningEngines {
  wake?: WakeWordDetector;
  vad?: VoiceActivityDetector;
  /** Scores what the speaker plays, to recognise our own voice (EchoGuard). */
  reference?: WakeWordDetector;
}

/**
 * The configured MCP servers (and Home Assistant's own, /api/mcp, with home.mcp), connecting in the background
 * from now on; undefined when there are none.
 */
function mcpTools(config: JarvisConfig, log: Logger, clock: Clock, stack: DisposalStack): McpTools | undefined {
  const servers = configuredMcpServers(config);
  if (servers.length === 0) return undefined;
  const tools = stack.use(new McpTools(servers, config.mcp, log, clock, config.skills.maxToolCallsPerTurn));
  tools.start();
  return tools;
}

/** `answers` with Home Assistant's own intent handling in front of it for device requests, when one is configured. */
function withHomeAssistant(config: JarvisConfig, answers: Responder, clock: Clock, log: Logger): Responder {
  const { home } = config;
  if (!home.url || !home.token) return answers;
  const client = new HomeAssistant({ url: home.url, token: home.token, timeoutMs: home.timeoutMs });
  return new HomeAssistantResponder(answers, client, { language: home.language, agentId: home.agentId, followUpMs: Math.max(config.conversation.followUpMs, 15_000), ...(home.area ? { area: home.area } : {}) }, clock, log);
}

/** The LLM that answers: the local model, or a model server (with the local model behind it, llm.fallback). */
function answeringModel(config: JarvisConfig, local: Responder, stack: DisposalStack): Responder {
  if (config.llm.backend === 'local') return local;
  const server = stack.use(openAiResponder(config.llm));
  return config.llm.fallback === 'local' ? new FallbackResponder(server, local, 'the local model') : server;
}

async function listeningEngines(
  config: JarvisConfig,
  log: Logger,
  given: NonNullable<DaemonOptions['engines']>,
  stack: DisposalStack,
  withSpeaker: boolean,
): Promise<ListeningEngines> {
  const [wake, reference, vad] = await Promise.all([
    given.wake ?? createWakeDetector(config, log).then((detector) => stack.use(detector)),
    // Disposed by the echo guard that uses it.
    withSpeaker ? createWakeDetector(config, log, true) : undefined,
    given.vad ?? SileroVad.create(config.vad.model).then((detector) => stack.use(detector)),
  ]);
  return { wake, vad, ...(reference ? { reference } : {}) };
}
