// See abort-hook.h. Compiled into the whisper library, so whisper-cli (the benchmark's baseline) links too; there
// jarvis_whisper_begin is never called and every graph runs as whisper.cpp runs it.
#undef ggml_backend_sched_graph_compute  // this file, too, is compiled with abort-hook.h force-included

#include <vector>

#include "abort-flag.h"

#include "ggml-backend.h"
#include "ggml-cpu.h"

namespace {

thread_local std::atomic<bool> *t_abort = nullptr;
thread_local ggml_threadpool *t_pool = nullptr;
/** The CPU backends given the flag and the pool since jarvis_whisper_begin (whisper.cpp keeps one per scheduler). */
thread_local std::vector<ggml_backend_t> t_backends;

bool is_aborted(void *flag) { return static_cast<std::atomic<bool> *>(flag)->load(std::memory_order_relaxed); }

}  // namespace

void jarvis_whisper_begin(std::atomic<bool> *abort, ggml_threadpool *pool) {
  t_abort = abort;
  t_pool = pool;
}

void jarvis_whisper_end() {
  // Setting no pool pauses the one a backend had; the backends outlive this (the model is busy until it returns).
  for (ggml_backend_t backend : t_backends) {
    ggml_backend_cpu_set_abort_callback(backend, nullptr, nullptr);
    ggml_backend_cpu_set_threadpool(backend, nullptr);
  }
  t_backends.clear();
  t_abort = nullptr;
  t_pool = nullptr;
}

extern "C" enum ggml_status jarvis_sched_graph_compute(ggml_backend_sched_t sched, struct ggml_cgraph *graph) {
  if (t_abort != nullptr) {
    for (int i = 0; i < ggml_backend_sched_get_n_backends(sched); ++i) {
      ggml_backend_t backend = ggml_backend_sched_get_backend(sched, i);
      if (!ggml_backend_is_cpu(backend)) continue;
      ggml_backend_cpu_set_abort_callback(backend, is_aborted, t_abort);
      if (t_pool != nullptr) ggml_backend_cpu_set_threadpool(backend, t_pool);
      bool known = false;
      for (ggml_backend_t seen : t_backends) known = known || seen == backend;
      if (!known) t_backends.push_back(backend);
    }
  }
  return ggml_backend_sched_graph_compute(sched, graph);
}
