// One ONNX session in a worker thread (see onnx-thread.ts): onnxruntime-node runs a model synchronously on the
// thread that calls it, so a large model (a Piper voice) runs here instead of blocking the daemon's event loop,
// which must go on reading the microphone while a sentence is synthesized.
// Telemetry is switched off by onnx-thread.ts on the main thread, not here: this thread's process.env is a copy
// that the native library never reads (see onnx-telemetry-off.ts).
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';

let session;

parentPort.on('message', async (message) => {
  try {
    if (message.type === 'create') {
      session = await ort.InferenceSession.create(message.path, message.options);
      parentPort.postMessage({ type: 'created', inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (message.type === 'run') {
      const feeds = {};
      for (const [name, { type, data, dims }] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(type, data, dims);
      const results = await session.run(feeds);
      const outputs = {};
      const transfer = [];
      for (const [name, tensor] of Object.entries(results)) {
        const data = tensor.data.slice();
        outputs[name] = { type: tensor.type, data, dims: tensor.dims };
        transfer.push(data.buffer);
        tensor.dispose();
      }
      parentPort.postMessage({ type: 'ran', id: message.id, outputs }, transfer);
    }
  } catch (error) {
    parentPort.postMessage({ type: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) });
  }
});
