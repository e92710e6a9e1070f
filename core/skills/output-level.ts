import { EventEmitter } from 'node:events';
import type { SkillStore } from './store.ts';

/**
 * JARVIS's own speaker level (0–100 %) and mute, kept in the store so they survive a restart and so `jarvis
 * ask "volume 5"` in another process reaches the daemon (which applies `gain` to what it plays). It is the
 * level of JARVIS's voice, not the system mixer's.
 */

const LEVEL_KEY = 'output.level';
const MUTED_KEY = 'output.muted';

export interface OutputLevelState {
  readonly level: number;
  readonly muted: boolean;
}

export class OutputLevel extends EventEmitter<{ changed: [OutputLevelState] }> {
  #state: OutputLevelState;

  constructor(private readonly store: SkillStore) {
    super();
    this.#state = this.#read();
  }

  get state(): OutputLevelState {
    return this.#state;
  }

  /** The playback gain, 0..1 (0 while muted). */
  get gain(): number {
    return this.#state.muted ? 0 : this.#state.level / 100;
  }

  setLevel(level: number): OutputLevelState {
    const clamped = Math.max(0, Math.min(100, Math.round(level)));
    this.store.setSetting(LEVEL_KEY, String(clamped));
    // Choosing a level is hearing again.
    this.store.setSetting(MUTED_KEY, clamped === 0 ? 'true' : 'false');
    return this.refresh();
  }

  setMuted(muted: boolean): OutputLevelState {
    this.store.setSetting(MUTED_KEY, String(muted));
    if (!muted && this.#state.level === 0) this.store.setSetting(LEVEL_KEY, '50');
    return this.refresh();
  }

  /** Reads the store again (another process may have changed it); emits `changed` when it differs. */
  refresh(): OutputLevelState {
    const next = this.#read();
    if (next.level !== this.#state.level || next.muted !== this.#state.muted) {
      this.#state = next;
      this.emit('changed', next);
    }
    return this.#state;
  }

  #read(): OutputLevelState {
    const level = Number(this.store.setting(LEVEL_KEY) ?? '100');
    return { level: Number.isFinite(level) ? Math.max(0, Math.min(100, level)) : 100, muted: this.store.setting(MUTED_KEY) === 'true' };
  }
}
