// One build at a time per output folder, across processes: CI starts a cached native build beside the tests, and
// the tests start the same build when they get to it. Shared by scripts/build-llama-server.js and
// scripts/build-whisper.js --server.
import fs from 'node:fs';
import path from 'node:path';

/** Takes dir's lock (a file holding the builder's pid; a dead builder's lock is taken over); false while another holds it. */
export function takeLock(dir) {
  const lock = path.join(dir, 'build.lock');
  try {
    fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
  } catch {
    if (lockHeld(dir)) return false;
    fs.writeFileSync(lock, String(process.pid));
  }
  process.on('exit', () => fs.rmSync(lock, { force: true }));
  return true;
}

/** Whether another living process holds dir's lock. */
export function lockHeld(dir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'build.lock'), 'utf8'));
    process.kill(pid, 0);
    return pid !== process.pid;
  } catch {
    return false;
  }
}

/** Waits (blocking: a build script has nothing else to do) until `file` exists or nobody holds dir's lock any more. */
export function waitForOtherBuild(dir, file) {
  while (!fs.existsSync(file) && lockHeld(dir)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  return fs.existsSync(file);
}
