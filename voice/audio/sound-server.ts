import { execFile, spawn } from 'node:child_process';

/**
 * Whether a PulseAudio or PipeWire (pipewire-pulse) server answers for this user. 'auto' backends use its
 * tools when it does, because ALSA's default device is then usually routed through it anyway, and going
 * through the server directly avoids the ALSA plugin layer and lets other programs share the devices.
 */
export function soundServerAnswers(env: NodeJS.ProcessEnv = process.env, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    // A hung server must not stall startup: the timeout kills pactl and counts as "no server".
    execFile('pactl', ['info'], { env, timeout: timeoutMs, killSignal: 'SIGKILL' }, (error) => resolve(!error));
  });
}

/** Sources appearing or going, or the default one changing, come in bursts (a module unloads several objects). */
const CHANGE_SETTLE_MS = 150;

/**
 * Calls `onChange` (once per burst) when the sound server's microphones change: one plugged in or unplugged, or a
 * new default chosen. A recording keeps its stream where the server put it: moved to another source when its own
 * went away, and left there when the microphone comes back, so JARVIS would listen to the wrong device until
 * restarted; reopening the recording on each change follows the microphone as a person expects. Nothing happens
 * where `pactl` is missing (no change is ever reported). Returns the function that stops watching.
 */
export function watchSourceChanges(env: NodeJS.ProcessEnv, onChange: () => void): () => void {
  const pactl = spawn('pactl', ['subscribe'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  pactl.on('error', () => {});
  let settle: NodeJS.Timeout | undefined;
  let buffered = '';
  pactl.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    if (!lines.some((line) => /^Event '(?:new|remove)' on source #|^Event 'change' on server/.test(line))) return;
    clearTimeout(settle);
    settle = setTimeout(onChange, CHANGE_SETTLE_MS);
  });
  return () => {
    clearTimeout(settle);
    pactl.kill();
  };
}
