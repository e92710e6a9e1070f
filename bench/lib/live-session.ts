import type { Logger } from '../../base/log.ts';
import type { JarvisConfig } from '../../config/schema.ts';
import { createDaemon, type Daemon } from '../../core/daemon/daemon.ts';
import type { AudioSink } from '../../voice/ports.ts';
import { createTranscriber } from '../../voice/stt/select.ts';
import { EventLog } from './event-log.ts';
import { LiveRoom } from './live-room.ts';
import { ScriptWords } from './script-words.ts';
import type { BenchSetup } from './setup.ts';

/**
 * The daemon as `jarvis start` assembles it, listening to a room that plays at real time, for the phases that
 * speak to it. A test-made Whisper hears no words, so there it gets `saying`, the words being said (ScriptWords).
 */
export interface LiveSession {
  readonly room: LiveRoom;
  readonly daemon: Daemon;
  readonly log: EventLog;
  /** What the person is saying now, for a Whisper that cannot hear it. */
  saying: string;
  /** Stops listening and disposes of everything, in order. */
  close(): Promise<void>;
}

export async function openLiveSession(setup: BenchSetup, config: JarvisConfig, sink: AudioSink & { close(): Promise<void> }, log: Logger): Promise<LiveSession> {
  const room = new LiveRoom();
  let saying = '';
  const words = setup.realSpeechToText ? undefined : new ScriptWords(createTranscriber(config.stt, log), () => saying);
  const daemon = await createDaemon(config, { log, source: room, sink, ...(words ? { engines: { transcriber: words } } : {}) });
  const events = new EventLog(daemon.assistant.bus);
  const controller = new AbortController();
  const listening = daemon.run(controller.signal);
  return {
    room,
    daemon,
    log: events,
    get saying() {
      return saying;
    },
    set saying(text: string) {
      saying = text;
    },
    async close() {
      room.end();
      controller.abort();
      await listening.catch(() => undefined);
      await daemon.dispose();
      await words?.dispose();
      await sink.close();
      events.dispose();
    },
  };
}
