import { execFile } from 'node:child_process';

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
