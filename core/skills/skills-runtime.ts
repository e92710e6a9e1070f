import type { JarvisConfig } from '../../config/schema.ts';
import { describeError } from '../../base/errors.ts';
import type { Logger } from '../../base/log.ts';
import type { Responder } from '../responder.ts';
import type { Problem } from '../protocol/state.ts';
import { systemClock, type Clock } from '../../base/clock.ts';
import { GpuTelemetryReader } from './gpu-telemetry.ts';
import { HouseholdMemory } from './household-memory.ts';
import { configuredModelStatus } from './model-status.ts';
import { OutputLevel } from './output-level.ts';
import type { GpuTelemetryProvider, SkillProviders } from './providers.ts';
import { SkillResponder } from './skill-responder.ts';
import { SkillRunner } from './skill-runner.ts';
import { SkillTools } from './skill-tools.ts';
import { skillsDatabasePath, SkillStore } from './store.ts';
import { TimerService } from './timer-service.ts';

/** A skill's question ("For how long?") waits at least this long for its answer, even with no follow-up window. */
const MIN_FOLLOW_UP_MS = 15_000;

/**
 * Everything the skills need, opened once per process: the store, the timers, the notes, the speaker level,
 * the runner and the LLM tools. A database that cannot be opened does not stop JARVIS: the skills run on an
 * in-memory store (nothing survives a restart) and a Problem says what to fix.
 */
export class SkillsRuntime {
  readonly store: SkillStore;
  readonly clock: Clock;
  readonly timers: TimerService;
  readonly memory: HouseholdMemory;
  readonly output: OutputLevel;
  /**
   * GPU telemetry (its own, started when first asked, until the daemon connects the HUD server's) and the
   * configured models; the daemon puts the model manager's status and switch in.
   */
  readonly providers: SkillProviders;
  readonly runner: SkillRunner;
  readonly tools: SkillTools;
  readonly problems: Problem[] = [];
  #unwatch: (() => void) | undefined;

  constructor(
    private readonly config: JarvisConfig,
    log: Logger,
    options: { clock?: Clock; file?: string } = {},
  ) {
    const file = options.file ?? skillsDatabasePath(config);
    let store: SkillStore;
    try {
      store = SkillStore.open(file);
    } catch (error) {
      const { message, fix } = describeError(error);
      log.error({ fix }, message);
      this.problems.push({ id: 'skills-store', message: `${message}; timers and notes will not survive a restart`, fix: fix ?? 'See the log.', blocking: false });
      store = SkillStore.open(':memory:');
    }
    this.store = store;
    this.clock = options.clock ?? systemClock;
    this.providers = { gpu: new GpuTelemetryReader({ intervalMs: config.server.telemetryIntervalMs, log }), models: configuredModelStatus(config) };
    this.timers = new TimerService(store, this.clock, { missedGraceMs: config.skills.missedGraceMs });
    this.memory = new HouseholdMemory(store, this.clock);
    this.output = new OutputLevel(store);
    this.runner = new SkillRunner(
      { timers: this.timers, memory: this.memory, output: this.output, clock: this.clock, providers: this.providers },
      { maxTimerMs: config.skills.maxTimerMs, snoozeMs: config.skills.snoozeMs },
    );
    this.tools = new SkillTools(this.runner, this.clock, config.skills.maxToolCallsPerTurn);
  }

  /** `llm` with the skills in front of it (and, when skills.tools is on, as functions it may call). */
  responder(llm: Responder): SkillResponder {
    const { skills, conversation } = this.config;
    return new SkillResponder(
      llm,
      { runner: this.runner, timers: this.timers, memory: this.memory, clock: this.clock, ...(skills.tools ? { tools: this.tools } : {}) },
      { stopPhrases: conversation.stopPhrases, injectContext: skills.injectContext, followUpMs: Math.max(conversation.followUpMs, MIN_FOLLOW_UP_MS) },
    );
  }

  /**
   * Notices writes by other processes (`jarvis ask "set a timer…"`, `jarvis memory forget`) through SQLite's
   * data_version, cheaply, every `intervalMs`, and brings the timers and the speaker level up to date.
   */
  watch(intervalMs = 1000): void {
    if (this.#unwatch) return;
    let version = this.store.dataVersion();
    const timer = setInterval(() => {
      const now = this.store.dataVersion();
      if (now === version) return;
      version = now;
      this.timers.refresh();
      this.output.refresh();
    }, intervalMs);
    timer.unref();
    this.#unwatch = () => clearInterval(timer);
  }

  /** Replaces the GPU telemetry (the daemon passes the HUD server's samples), disposing the one before. */
  useGpuTelemetry(provider: GpuTelemetryProvider | undefined): void {
    this.providers.gpu?.dispose?.();
    if (provider) this.providers.gpu = provider;
    else delete this.providers.gpu;
  }

  dispose(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.timers.dispose();
    this.useGpuTelemetry(undefined);
    this.store.close();
  }
}
