/**
 * onnxruntime-node (1.30 on Linux) ships Microsoft's telemetry switched on: the first session writes a device id
 * and an event queue under ~/.cache/Microsoft/DeveloperTools/.onnxruntime, a mat-debug-<pid>.log and a .ses file
 * in the temp folder, and would upload the events. A local assistant sends nothing anywhere, so it is switched
 * off, unconditionally, through the one switch the library reads from the environment.
 *
 * Imported for its effect, first, by every module that loads onnxruntime-node and by the CLI entry, so it runs
 * before the library does. It has to run on the main thread: a worker thread's process.env is a copy that the
 * native library never sees (onnx-thread.ts imports it before starting its worker). Child processes inherit it.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
