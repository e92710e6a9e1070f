import { AudioDeviceError } from '../../base/errors.ts';
import type { ProcessEnd } from './audio-process.ts';

/**
 * Turns a recorder's or player's failure into an AudioDeviceError that says what the tool reported and what
 * the user can do. The fixes name the config keys and the commands that list devices.
 */

export type AudioTool = 'parec' | 'arecord' | 'pacat' | 'aplay';

const PACKAGE: Record<AudioTool, string> = {
  parec: 'pulseaudio-utils',
  pacat: 'pulseaudio-utils',
  arecord: 'alsa-utils',
  aplay: 'alsa-utils',
};

const ALTERNATIVE: Record<AudioTool, AudioTool> = { parec: 'arecord', arecord: 'parec', pacat: 'aplay', aplay: 'pacat' };

const START_SERVER = 'Start the sound server (`systemctl --user start pipewire-pulse` or `pulseaudio --start`)';

function isInput(tool: AudioTool): boolean {
  return tool === 'parec' || tool === 'arecord';
}

function isPulse(tool: AudioTool): boolean {
  return tool === 'parec' || tool === 'pacat';
}

function what(tool: AudioTool, device: string): string {
  return `${isInput(tool) ? 'microphone' : 'speaker'} "${device}" (${tool})`;
}

/** The generic fix: where the device comes from and how to list the candidates. */
export function deviceFix(tool: AudioTool): string {
  const key = isInput(tool) ? 'audio.input' : 'audio.output';
  const thing = isInput(tool) ? 'plug in a microphone' : 'connect a speaker or headphones';
  const list = isPulse(tool)
    ? `\`pactl list short ${isInput(tool) ? 'sources' : 'sinks'}\``
    : `\`${tool} -L\` (or \`${tool} -l\` for cards)`;
  return `${thing[0]!.toUpperCase()}${thing.slice(1)} or set ${key}.device to one that exists; ${list} lists them.`;
}

function fixFor(tool: AudioTool, stderr: string, end: ProcessEnd): string {
  const key = isInput(tool) ? 'audio.input' : 'audio.output';
  if (end.spawnError?.code === 'ENOENT') {
    return `Install ${PACKAGE[tool]} (\`apt install ${PACKAGE[tool]}\`), or set ${key}.backend to ${ALTERNATIVE[tool]}.`;
  }
  if (isPulse(tool) && /connection (refused|failure|terminated)|pa_context_connect|access denied/i.test(stderr)) {
    return `${START_SERVER}, or set ${key}.backend to ${ALTERNATIVE[tool]} to use ALSA directly.`;
  }
  if (/busy/i.test(stderr)) {
    return `Another program holds the device: close it, or set ${key}.device to "default" so the sound server shares it.`;
  }
  if (/channels count non available|sample format non available|rate .*not available/i.test(stderr)) {
    return `The device cannot do mono 16-bit directly: use its \`plughw:\` name instead of \`hw:\` in ${key}.device.`;
  }
  return deviceFix(tool);
}

/**
 * The tool could not be started or stopped on its own. `autoFallback`: 'auto' chose ALSA because no sound
 * server answered, which is usually the real problem on a desktop.
 */
export function processFailure(
  tool: AudioTool,
  device: string,
  end: ProcessEnd,
  stderr: string,
  autoFallback = false,
): AudioDeviceError {
  let reason: string;
  if (end.spawnError?.code === 'ENOENT') reason = `${tool} is not installed (not found on PATH)`;
  else if (end.spawnError) reason = `${tool} could not start: ${end.spawnError.message}`;
  else {
    const how = end.signal ? `was killed by ${end.signal}` : `exited with code ${end.code}`;
    reason = `${tool} ${how}${stderr ? `: ${stderr}` : ' without saying why'}`;
  }
  let fix = fixFor(tool, stderr, end);
  if (autoFallback) {
    reason += ' (no PulseAudio/PipeWire server answered, so ALSA was used directly)';
    fix = `${START_SERVER}, or: ${fix[0]!.toLowerCase()}${fix.slice(1)}`;
  }
  return new AudioDeviceError(`cannot use the ${what(tool, device)}: ${reason}`, fix, { cause: end.spawnError });
}

/** The tool runs but no audio comes out of it. */
export function noAudioFailure(tool: AudioTool, device: string, idleMs: number, stderr: string): AudioDeviceError {
  return new AudioDeviceError(
    `no audio from the ${what(tool, device)} for ${idleMs} ms${stderr ? ` (${tool} said: ${stderr})` : ''}`,
    `Check that the device is not suspended, muted at the source or held by another program. ${deviceFix(tool)}`,
  );
}
