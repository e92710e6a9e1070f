import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import { PROBE_FLAG, type ProbeReply } from './machine.ts';

/**
 * Forked by models/machine.ts: asks llama.cpp which GPU it would use and how much VRAM is free, then exits. It
 * runs in its own process so that a GPU backend (and the VRAM a CUDA context takes) is never loaded into the
 * daemon or the CLI just to look.
 */

async function probe(): Promise<ProbeReply> {
  const llama = await getLlama({ gpu: 'auto', build: 'never', logLevel: LlamaLogLevel.error, logger: () => {} });
  try {
    if (llama.gpu === false) return { gpu: null, cpuMathCores: llama.cpuMathCores };
    const vram = await llama.getVramState();
    return {
      gpu: { type: llama.gpu, names: await llama.getGpuDeviceNames(), totalBytes: vram.total, freeBytes: vram.free },
      cpuMathCores: llama.cpuMathCores,
    };
  } finally {
    await llama.dispose();
  }
}

if (process.send && process.argv.includes(PROBE_FLAG)) {
  probe().then(
    (reply) => process.send!({ ok: true, reply }, () => process.exit(0)),
    (error: unknown) => process.send!({ ok: false, message: error instanceof Error ? error.message : String(error) }, () => process.exit(0)),
  );
}
