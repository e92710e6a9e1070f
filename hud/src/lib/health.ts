import type { Problem } from '../../../core/protocol/state.ts';
import type { ModelsView, TelemetrySample } from '../../../core/protocol/wire.ts';

/** Warnings the screens raise from telemetry and model state, beside the assistant's own problems. */

/** A GeForce card slows itself down from about 90 °C (a GTX 1080 Ti at 91 °C): warn before that. */
export const GPU_HOT_C = 85;

export interface Banner extends Problem {
  severity: 'error' | 'warning' | 'info';
}

export function banners(problems: readonly Problem[], telemetry: TelemetrySample | undefined, models: ModelsView | undefined): Banner[] {
  const out: Banner[] = problems.map((p) => ({ ...p, severity: p.blocking ? 'error' : p.id === 'muted' ? 'info' : 'warning' }));
  if (telemetry?.gpu.available) {
    for (const gpu of telemetry.gpu.gpus) {
      if (gpu.temperatureC !== undefined && gpu.temperatureC >= GPU_HOT_C) {
        out.push({
          id: `gpu-hot-${gpu.index}`,
          severity: 'warning',
          blocking: false,
          message: `${gpu.name} is hot: ${gpu.temperatureC} °C`,
          fix: 'Check that its fans turn and the case has airflow; it slows down by itself above about 90 °C.',
        });
      }
    }
  }
  for (const model of models?.active ?? []) {
    if (model.state === 'downloading') {
      out.push({
        id: `download-${model.kind}`,
        severity: 'info',
        blocking: false,
        message: `Downloading ${model.name}${model.progress !== undefined ? `: ${Math.round(model.progress * 100)} %` : ''}`,
        fix: 'JARVIS answers with it as soon as the download is verified.',
      });
    }
  }
  return out;
}
