import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TelemetrySample } from '../core/protocol/wire.ts';
import { NvidiaSmiMonitor } from '../core/telemetry/nvidia-smi-monitor.ts';
import {
  classifyNvidiaSmiMessage,
  labelGpuMemory,
  NvidiaSmiFailure,
  parseComputeAppsCsv,
  parseGpuCsv,
} from '../core/telemetry/nvidia-smi-parser.ts';
import { SystemSampler } from '../core/telemetry/system-sampler.ts';
import { Telemetry } from '../core/telemetry/telemetry.ts';
import { fakeNvidiaSmi } from './fixtures/nvidia-smi.ts';

/**
 * GPU telemetry is parsed from nvidia-smi's text. There is no NVIDIA GPU on the test machine, so the text below is
 * what `nvidia-smi --query-gpu=name,memory.used,memory.total,temperature.gpu,power.draw,power.limit,
 * utilization.gpu,clocks.sm,clocks.mem,fan.speed --format=csv,noheader,nounits` prints on those cards (fields a
 * card does not report are "[N/A]" or, on older drivers, "[Not Supported]"), and the monitor's loop is run
 * against a script that prints such text the way `nvidia-smi --loop-ms` does.
 */

const GTX_1080_TI_UNDER_LOAD = 'NVIDIA GeForce GTX 1080 Ti, 10977, 11264, 71, 233.41, 250.00, 99, 1860, 5508, 61';
const GTX_1080_TI_IDLE_OLD_DRIVER = 'GeForce GTX 1080 Ti, 612, 11178, 34, 9.73, 250.00, 0, 139, 405, 23';
const RTX_4090 = 'NVIDIA GeForce RTX 4090, 18211, 24564, 58, 287.90, 450.00, 87, 2730, 10501, 42';
const RTX_3060_LAPTOP = 'NVIDIA GeForce RTX 3060 Laptop GPU, 5, 6144, 45, 11.85, [N/A], 0, 210, 405, [N/A]';
const TESLA_T4 = 'Tesla T4, 0, 15360, 33, 9.51, 70.00, 0, 300, 405, [N/A]';
const H100 = 'NVIDIA H100 80GB HBM3, 1, 81559, 31, 69.73, 700.00, 0, 345, 2619, [N/A]';
const GT_710 = 'GeForce GT 710, 201, 2001, 38, [Not Supported], [Not Supported], [Not Supported], 953, 800, 40';

describe('nvidia-smi output parser', () => {
  test('a GTX 1080 Ti under load: every figure, in its unit', () => {
    assert.deepEqual(parseGpuCsv(`${GTX_1080_TI_UNDER_LOAD}\n`), [
      {
        index: 0,
        name: 'NVIDIA GeForce GTX 1080 Ti',
        memoryUsedMiB: 10977,
        memoryTotalMiB: 11264,
        temperatureC: 71,
        powerDrawW: 233.41,
        powerLimitW: 250,
        utilizationPct: 99,
        smClockMHz: 1860,
        memoryClockMHz: 5508,
        fanPct: 61,
      },
    ]);
  });

  test('the same card idle under an older driver (no "NVIDIA" in the name)', () => {
    const [gpu] = parseGpuCsv(GTX_1080_TI_IDLE_OLD_DRIVER);
    assert.equal(gpu?.name, 'GeForce GTX 1080 Ti');
    assert.equal(gpu?.memoryTotalMiB, 11178);
    assert.equal(gpu?.powerDrawW, 9.73);
    assert.equal(gpu?.smClockMHz, 139);
  });

  test('fields a card does not report are absent, never zero: [N/A] and [Not Supported]', () => {
    const [laptop, t4, h100, gt710] = parseGpuCsv([RTX_3060_LAPTOP, TESLA_T4, H100, GT_710].join('\n'));
    assert.equal(laptop?.powerDrawW, 11.85);
    assert.equal(laptop?.powerLimitW, undefined);
    assert.equal(laptop?.fanPct, undefined);
    assert.equal(laptop?.memoryUsedMiB, 5);
    assert.equal(t4?.name, 'Tesla T4');
    assert.equal(t4?.fanPct, undefined);
    assert.equal(t4?.powerLimitW, 70);
    assert.equal(h100?.memoryTotalMiB, 81559);
    assert.equal(h100?.fanPct, undefined);
    assert.equal(gt710?.utilizationPct, undefined);
    assert.equal(gt710?.powerDrawW, undefined);
    assert.equal(gt710?.smClockMHz, 953);
    assert.ok(!('fanPct' in h100!), 'not even a key with undefined');
  });

  test('several GPUs, with the index field the monitor asks for', () => {
    const text = [`0, ${GTX_1080_TI_UNDER_LOAD}`, `1, ${GTX_1080_TI_IDLE_OLD_DRIVER}`, `2, ${RTX_4090}`].join('\r\n');
    const gpus = parseGpuCsv(text, ['index', 'name', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw', 'power.limit', 'utilization.gpu', 'clocks.sm', 'clocks.mem', 'fan.speed']);
    assert.deepEqual(
      gpus.map((g) => [g.index, g.name, g.memoryUsedMiB]),
      [
        [0, 'NVIDIA GeForce GTX 1080 Ti', 10977],
        [1, 'GeForce GTX 1080 Ti', 612],
        [2, 'NVIDIA GeForce RTX 4090', 18211],
      ],
    );
  });

  test('nvidia-smi saying it cannot work is a failure of its own kind, not a GPU called "NVIDIA-SMI has failed"', () => {
    const noDriver =
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.";
    assert.throws(() => parseGpuCsv(noDriver), (e: unknown) => e instanceof NvidiaSmiFailure && e.kind === 'no-driver');
    assert.equal(classifyNvidiaSmiMessage('No devices were found')?.kind, 'no-devices');
    assert.equal(
      classifyNvidiaSmiMessage('Unable to determine the device handle for GPU0000:01:00.0: GPU is lost.  Reboot the system to recover this GPU')?.kind,
      'gpu-lost',
    );
    assert.equal(classifyNvidiaSmiMessage('Failed to initialize NVML: Driver/library version mismatch')?.kind, 'no-driver');
    assert.throws(() => parseGpuCsv('garbage'), NvidiaSmiFailure);
  });

  test('GPU memory per process (--query-compute-apps=pid,used_memory), labelled with our model', () => {
    const apps = parseComputeAppsCsv('4242, 5310\n1187, 312\n');
    assert.deepEqual(apps, [
      { pid: 4242, usedMiB: 5310 },
      { pid: 1187, usedMiB: 312 },
    ]);
    assert.deepEqual(parseComputeAppsCsv(''), []);
    assert.deepEqual(parseComputeAppsCsv('No running processes found\n'), []);
    assert.deepEqual(parseComputeAppsCsv('4242, [N/A]'), [{ pid: 4242, usedMiB: 0 }]);
    assert.deepEqual(
      labelGpuMemory(apps, new Map([[4242, 'LLM Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf']])).map((a) => a.label),
      ['LLM Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf', 'other'],
    );
  });
});

describe('nvidia-smi monitor (one long-lived process)', () => {
  test('groups each period\'s lines into one sample per GPU set, and asks which processes hold GPU memory', async () => {
    const command = fakeNvidiaSmi(`
case "$1" in
  --query-compute-apps=*) printf '4242, 5310\\n'; exit 0;;
esac
i=0
while [ $i -lt 50 ]; do
  printf '0, ${GTX_1080_TI_UNDER_LOAD}\\n1, ${RTX_4090}\\n'
  i=$((i+1)); sleep 0.1
done`);
    const monitor = new NvidiaSmiMonitor({ intervalMs: 100, command, processesEvery: 1 });
    const samples: number[][] = [];
    monitor.onSample((gpus) => samples.push(gpus.map((g) => g.index)));
    monitor.start();
    await sleep(800);
    monitor.dispose();
    assert.ok(samples.length >= 3, `${samples.length} samples`);
    for (const sample of samples) assert.deepEqual(sample, [0, 1]);
    assert.deepEqual(monitor.availability, { available: true });
    assert.deepEqual(monitor.processes, [{ pid: 4242, usedMiB: 5310 }]);
    const args = fs.readFileSync(path.join(path.dirname(command), 'args'), 'utf8');
    assert.match(args, /--query-gpu=index,name,memory.used,memory.total,temperature.gpu,power.draw,power.limit,utilization.gpu,clocks.sm,clocks.mem,fan.speed --format=csv,noheader,nounits --loop-ms=100/);
  });

  test('no nvidia-smi on the machine: "no NVIDIA GPU", not zeros', async () => {
    const monitor = new NvidiaSmiMonitor({ intervalMs: 100, command: '/nonexistent/nvidia-smi' });
    monitor.start();
    await sleep(100);
    monitor.dispose();
    const availability = monitor.availability;
    assert.equal(availability.available, false);
    assert.match(availability.available === false ? availability.reason : '', /^no NVIDIA GPU/);
    assert.deepEqual(monitor.latest, []);
  });

  test('a driver that does not answer is reported with its message and a fix, and retried', async () => {
    const command = fakeNvidiaSmi(
      `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."; exit 9`,
    );
    const monitor = new NvidiaSmiMonitor({ intervalMs: 100, command, retryMs: 100 });
    monitor.start();
    await sleep(450);
    monitor.dispose();
    const availability = monitor.availability;
    assert.equal(availability.available, false);
    assert.match(availability.available === false ? availability.reason : '', /couldn't communicate with the NVIDIA driver/);
    assert.match(availability.available === false ? (availability.fix ?? '') : '', /driver/);
    const starts = fs.readFileSync(path.join(path.dirname(command), 'args'), 'utf8').trim().split('\n').length;
    assert.ok(starts >= 2, `started ${starts} times`);
  });
});

test('nvidia-smi that stops printing (a hung driver) is restarted, and said to have stopped meanwhile', async () => {
  const command = fakeNvidiaSmi(`printf '0, ${GTX_1080_TI_UNDER_LOAD}\\n'; exec sleep 30`);
  const monitor = new NvidiaSmiMonitor({ intervalMs: 100, command, retryMs: 300 });
  const reasons = new Set<string>();
  monitor.start();
  // Watch what it says over time: available, then stopped, then (restarted) available again.
  for (let waited = 0; waited < 5000 && !(reasons.size > 0 && monitor.availability.available === true); waited += 50) {
    await sleep(50);
    const availability = monitor.availability;
    if (availability.available === false) reasons.add(availability.reason);
  }
  monitor.dispose();
  assert.ok([...reasons].some((r) => /stopped printing figures/.test(r)), [...reasons].join('; '));
  assert.equal(monitor.availability.available, true, 'back after the restart');
  const starts = fs.readFileSync(path.join(path.dirname(command), 'args'), 'utf8').trim().split('\n').length;
  assert.ok(starts >= 2, `started ${starts} times`);
});

describe('system sampler and telemetry', () => {
  test('CPU, memory and our memory from /proc; CPU temperature from the hwmon sensor when there is one', async () => {
    const sys = fs.mkdtempSync(path.join(os.tmpdir(), 'jarvis-sys-'));
    fs.mkdirSync(path.join(sys, 'class', 'hwmon', 'hwmon0'), { recursive: true });
    fs.mkdirSync(path.join(sys, 'class', 'hwmon', 'hwmon1'), { recursive: true });
    fs.writeFileSync(path.join(sys, 'class', 'hwmon', 'hwmon0', 'name'), 'nvme\n');
    fs.writeFileSync(path.join(sys, 'class', 'hwmon', 'hwmon1', 'name'), 'coretemp\n');
    fs.writeFileSync(path.join(sys, 'class', 'hwmon', 'hwmon1', 'temp1_input'), '47000\n');
    const sampler = new SystemSampler({ sysRoot: sys, childPids: () => [process.pid] });
    await sampler.sample();
    const end = Date.now() + 150;
    while (Date.now() < end); // some CPU work to measure
    const sample = await sampler.sample();
    assert.equal(sample.cpuTemperatureC, 47);
    assert.ok(sample.cpuPct > 0 && sample.cpuPct <= 100, `cpu ${sample.cpuPct}`);
    const memTotalKiB = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]);
    assert.equal(Math.round(sample.memoryTotalMiB), Math.round(memTotalKiB / 1024));
    assert.ok(sample.memoryUsedMiB > 0 && sample.memoryUsedMiB < sample.memoryTotalMiB);
    // Our own pid counted as a child too: twice our RSS, roughly.
    assert.ok(sample.processRssMiB > (process.memoryUsage.rss() / 1024 / 1024) * 1.5);
    const bare = await new SystemSampler({ sysRoot: path.join(sys, 'nothing') }).sample();
    assert.equal(bare.cpuTemperatureC, undefined, 'no sensor: no temperature, not 0');
  });

  test('samples at its interval, keeps a bounded history, and says when there is no NVIDIA GPU', async () => {
    const telemetry = new Telemetry({ intervalMs: 200, historyMs: 600, nvidiaSmi: '/nonexistent/nvidia-smi' });
    const samples: TelemetrySample[] = [];
    telemetry.on('sample', (s) => samples.push(s));
    telemetry.start();
    await sleep(1150);
    telemetry.dispose();
    assert.ok(samples.length >= 5 && samples.length <= 8, `${samples.length} samples in 1.15 s`);
    assert.equal(telemetry.history.length, 3);
    const last = samples.at(-1)!;
    assert.equal(last.gpu.available, false);
    assert.match(last.gpu.available === false ? last.gpu.reason : '', /no NVIDIA GPU/);
    assert.ok(last.system.memoryTotalMiB > 0);
  });
});
