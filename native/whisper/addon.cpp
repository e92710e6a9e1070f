// JARVIS's Node binding of whisper.cpp (Node-API, C interface): a model is loaded once and kept; each transcription
// runs on a libuv worker thread, so the event loop never waits for whisper.cpp, on the model's own ggml thread pool,
// and can be aborted between two ggml operations (see abort-hook.h). whisper.cpp's log is collected on the thread
// that does the work and handed back with each result instead of going to stderr.
//
//   load(path) -> Promise<{ context, log, ms }>              context: an external handle
//   transcribe(context, Int16Array, { threads, language, audioCtx, noTimestamps, singleSegment })
//     -> { promise: Promise<{ text, segments, aborted, encodeMs, decodeMs, log }>, abort() }
//   release(context) -> boolean                               false: released when its running job ends
//   systemInfo() -> string, version() -> string
//
// The JS side (voice/stt/whisper-local.ts) runs one transcription per context at a time.

#include <node_api.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "abort-flag.h"
#include "ggml-cpu.h"
#include "whisper.h"

namespace {

struct LogLine {
  int level;
  std::string text;
};

// Set by the worker thread around the whisper.cpp call it makes; whisper.cpp logs on that thread.
thread_local std::vector<LogLine> *t_log = nullptr;

void on_log(enum ggml_log_level level, const char *text, void *) {
  if (t_log != nullptr && text != nullptr) t_log->push_back({static_cast<int>(level), text});
}

bool is_aborted(void *flag) { return static_cast<std::atomic<bool> *>(flag)->load(std::memory_order_relaxed); }

#define CHECK(call)                                                                \
  do {                                                                             \
    if ((call) != napi_ok) {                                                       \
      const napi_extended_error_info *info = nullptr;                              \
      napi_get_last_error_info(env, &info);                                        \
      bool pending = false;                                                        \
      napi_is_exception_pending(env, &pending);                                    \
      if (!pending) {                                                              \
        napi_throw_error(env, nullptr,                                             \
                         info && info->error_message ? info->error_message : #call); \
      }                                                                            \
      return nullptr;                                                              \
    }                                                                              \
  } while (0)

/** Polling level of the model's thread pool: its threads spin about 3 ms for the next graph, then sleep. */
constexpr uint32_t POOL_POLL = 1;

/** A loaded model. JS holds it through an external; a running job holds it too. */
struct Context {
  whisper_context *ctx = nullptr;
  /**
   * Threads kept for this model's graphs (made by its first transcription), paused between transcriptions. Without
   * it ggml starts and joins threads for every graph: a decoder step each, where waking a sleeping core in a VM
   * costs milliseconds.
   */
  ggml_threadpool *pool = nullptr;
  int pool_threads = 0;
  std::mutex mutex;
  bool busy = false;
  bool release_when_idle = false;

  /** The pool for `threads` threads, made again when that number changes (no backend holds it between runs). */
  ggml_threadpool *pool_for(int threads) {
    if (pool != nullptr && pool_threads != threads) {
      ggml_threadpool_free(pool);
      pool = nullptr;
    }
    if (pool == nullptr && threads > 1) {
      ggml_threadpool_params params = ggml_threadpool_params_default(threads);
      params.poll = POOL_POLL;
      pool = ggml_threadpool_new(&params);
      pool_threads = threads;
    }
    return pool;
  }

  void free_model() {
    if (ctx != nullptr) whisper_free(ctx);
    ctx = nullptr;
    if (pool != nullptr) ggml_threadpool_free(pool);
    pool = nullptr;
  }

  ~Context() { free_model(); }
};

using ContextRef = std::shared_ptr<Context>;

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

napi_value make_string(napi_env env, const std::string &text) {
  napi_value value;
  if (napi_create_string_utf8(env, text.data(), text.size(), &value) != napi_ok) return nullptr;
  return value;
}

napi_value make_number(napi_env env, double number) {
  napi_value value;
  if (napi_create_double(env, number, &value) != napi_ok) return nullptr;
  return value;
}

napi_value log_array(napi_env env, const std::vector<LogLine> &lines) {
  napi_value array;
  if (napi_create_array_with_length(env, lines.size(), &array) != napi_ok) return nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    napi_value pair, level;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_int32(env, lines[i].level, &level);
    napi_set_element(env, pair, 0, level);
    napi_set_element(env, pair, 1, make_string(env, lines[i].text));
    napi_set_element(env, array, i, pair);
  }
  return array;
}

napi_value error_with_log(napi_env env, const std::string &message, const std::vector<LogLine> &lines) {
  napi_value error;
  napi_create_error(env, nullptr, make_string(env, message), &error);
  napi_set_named_property(env, error, "log", log_array(env, lines));
  return error;
}

bool get_string(napi_env env, napi_value value, std::string &out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out.resize(length);
  return napi_get_value_string_utf8(env, value, out.data(), length + 1, &length) == napi_ok;
}

/** A property of an options object, or nullptr when it is missing or undefined. */
napi_value property(napi_env env, napi_value object, const char *name) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return nullptr;
  if (napi_typeof(env, value, &type) != napi_ok || type == napi_undefined || type == napi_null) return nullptr;
  return value;
}

ContextRef *unwrap_context(napi_env env, napi_value value) {
  void *data = nullptr;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return nullptr;
  if (napi_get_value_external(env, value, &data) != napi_ok) return nullptr;
  return static_cast<ContextRef *>(data);
}

// ---------------------------------------------------------------------------------------------------------------
// load(path)

struct LoadJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  std::string path;
  whisper_context *ctx = nullptr;
  std::vector<LogLine> log;
  double ms = 0;
};

void load_execute(napi_env, void *data) {
  auto *job = static_cast<LoadJob *>(data);
  const auto start = std::chrono::steady_clock::now();
  t_log = &job->log;
  whisper_context_params params = whisper_context_default_params();
  params.use_gpu = false;  // this build has the CPU backend only
  job->ctx = whisper_init_from_file_with_params(job->path.c_str(), params);
  t_log = nullptr;
  job->ms = ms_since(start);
}

void load_complete(napi_env env, napi_status status, void *data) {
  std::unique_ptr<LoadJob> job(static_cast<LoadJob *>(data));
  napi_delete_async_work(env, job->work);
  if (status != napi_ok || job->ctx == nullptr) {
    if (job->ctx != nullptr) whisper_free(job->ctx);
    napi_reject_deferred(env, job->deferred, error_with_log(env, "whisper.cpp could not load the model", job->log));
    return;
  }
  auto *ref = new ContextRef(std::make_shared<Context>());
  (*ref)->ctx = job->ctx;
  napi_value result, external;
  napi_create_object(env, &result);
  napi_create_external(
      env, ref, [](napi_env, void *data, void *) { delete static_cast<ContextRef *>(data); }, nullptr, &external);
  napi_set_named_property(env, result, "context", external);
  napi_set_named_property(env, result, "log", log_array(env, job->log));
  napi_set_named_property(env, result, "ms", make_number(env, job->ms));
  napi_resolve_deferred(env, job->deferred, result);
}

napi_value Load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  auto job = std::make_unique<LoadJob>();
  if (argc < 1 || !get_string(env, argv[0], job->path)) {
    napi_throw_type_error(env, nullptr, "load(path): path must be a string");
    return nullptr;
  }
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "whisper.load", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, nullptr, name, load_execute, load_complete, job.get(), &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  job.release();
  return promise;
}

// ---------------------------------------------------------------------------------------------------------------
// transcribe(context, pcm, options)

using AbortFlag = std::shared_ptr<std::atomic<bool>>;

struct TranscribeJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  ContextRef context;
  AbortFlag abort = std::make_shared<std::atomic<bool>>(false);
  std::vector<float> pcm;
  int threads = 1;
  std::string language = "en";
  int audio_ctx = 0;
  bool no_timestamps = false;
  bool single_segment = false;
  // results
  int status = 0;
  std::string failure;
  std::string text;
  int segments = 0;
  bool aborted = false;
  double encode_ms = 0, decode_ms = 0, total_ms = 0;
  std::vector<LogLine> log;
};

void transcribe_execute(napi_env, void *data) {
  auto *job = static_cast<TranscribeJob *>(data);
  Context &context = *job->context;
  {
    std::lock_guard<std::mutex> lock(context.mutex);
    if (context.ctx == nullptr || context.release_when_idle) {
      job->failure = "the model was released";
      return;
    }
    if (context.busy) {
      job->failure = "another transcription is running on this model";
      return;
    }
    context.busy = true;
  }
  const auto start = std::chrono::steady_clock::now();
  t_log = &job->log;
  jarvis_whisper_begin(job->abort.get(), context.pool_for(job->threads));

  whisper_full_params params = whisper_full_default_params(WHISPER_SAMPLING_GREEDY);
  params.n_threads = job->threads;
  params.language = job->language.c_str();
  params.translate = false;
  params.no_context = true;
  params.no_timestamps = job->no_timestamps;
  params.single_segment = job->single_segment;
  params.print_special = false;
  params.print_progress = false;
  params.print_realtime = false;
  params.print_timestamps = false;
  params.audio_ctx = job->audio_ctx;
  params.abort_callback = is_aborted;
  params.abort_callback_user_data = job->abort.get();
  params.encoder_begin_callback = [](whisper_context *, whisper_state *, void *flag) { return !is_aborted(flag); };
  params.encoder_begin_callback_user_data = job->abort.get();

  whisper_reset_timings(context.ctx);
  job->status = whisper_full(context.ctx, params, job->pcm.data(), static_cast<int>(job->pcm.size()));
  job->aborted = job->abort->load();
  if (job->status == 0 && !job->aborted) {
    job->segments = whisper_full_n_segments(context.ctx);
    for (int i = 0; i < job->segments; ++i) job->text += whisper_full_get_segment_text(context.ctx, i);
  }
  if (whisper_timings *timings = whisper_get_timings(context.ctx)) {
    job->encode_ms = timings->encode_ms;
    job->decode_ms = timings->decode_ms;
    delete timings;  // whisper_get_timings allocates
  }
  jarvis_whisper_end();
  t_log = nullptr;
  job->total_ms = ms_since(start);

  std::lock_guard<std::mutex> lock(context.mutex);
  context.busy = false;
  if (context.release_when_idle) context.free_model();
}

void transcribe_complete(napi_env env, napi_status status, void *data) {
  std::unique_ptr<TranscribeJob> job(static_cast<TranscribeJob *>(data));
  napi_delete_async_work(env, job->work);
  if (status != napi_ok) {
    napi_reject_deferred(env, job->deferred, error_with_log(env, "the transcription was cancelled", job->log));
    return;
  }
  if (!job->failure.empty()) {
    napi_reject_deferred(env, job->deferred, error_with_log(env, job->failure, job->log));
    return;
  }
  if (job->status != 0 && !job->aborted) {
    napi_reject_deferred(env, job->deferred,
                         error_with_log(env, "whisper_full failed with code " + std::to_string(job->status), job->log));
    return;
  }
  napi_value result, aborted, segments;
  napi_create_object(env, &result);
  napi_get_boolean(env, job->aborted, &aborted);
  napi_create_int32(env, job->segments, &segments);
  napi_set_named_property(env, result, "text", make_string(env, job->text));
  napi_set_named_property(env, result, "segments", segments);
  napi_set_named_property(env, result, "aborted", aborted);
  napi_set_named_property(env, result, "encodeMs", make_number(env, job->encode_ms));
  napi_set_named_property(env, result, "decodeMs", make_number(env, job->decode_ms));
  napi_set_named_property(env, result, "totalMs", make_number(env, job->total_ms));
  napi_set_named_property(env, result, "log", log_array(env, job->log));
  napi_resolve_deferred(env, job->deferred, result);
}

napi_value Abort(napi_env env, napi_callback_info info) {
  void *data = nullptr;
  CHECK(napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data));
  (*static_cast<AbortFlag *>(data))->store(true);
  return nullptr;
}

bool get_int(napi_env env, napi_value options, const char *name, int &out) {
  napi_value value = property(env, options, name);
  return value == nullptr || napi_get_value_int32(env, value, &out) == napi_ok;
}

bool get_bool(napi_env env, napi_value options, const char *name, bool &out) {
  napi_value value = property(env, options, name);
  return value == nullptr || napi_get_value_bool(env, value, &out) == napi_ok;
}

/** A call's arguments (up to 3), the first of which must be a context from load(). */
struct ContextCall {
  size_t argc = 3;
  napi_value argv[3] = {};
  ContextRef *ref = nullptr;

  /** False after throwing a TypeError that says `usage`. */
  bool read(napi_env env, napi_callback_info info, const char *usage) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
    ref = argc >= 1 ? unwrap_context(env, argv[0]) : nullptr;
    if (ref == nullptr) napi_throw_type_error(env, nullptr, (std::string(usage) + ": context must come from load()").c_str());
    return ref != nullptr;
  }
};

napi_value Transcribe(napi_env env, napi_callback_info info) {
  ContextCall call;
  if (!call.read(env, info, "transcribe(context, pcm, options)")) return nullptr;
  const size_t argc = call.argc;
  napi_value *argv = call.argv;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *samples = nullptr;
  if (argc >= 2) napi_is_typedarray(env, argv[1], &is_typed);
  if (is_typed) CHECK(napi_get_typedarray_info(env, argv[1], &type, &length, &samples, nullptr, nullptr));
  if (!is_typed || type != napi_int16_array) {
    napi_throw_type_error(env, nullptr, "transcribe(context, pcm, options): pcm must be an Int16Array (16 kHz mono)");
    return nullptr;
  }

  auto job = std::make_unique<TranscribeJob>();
  job->context = *call.ref;
  job->pcm.resize(length);
  const int16_t *pcm = static_cast<const int16_t *>(samples);
  for (size_t i = 0; i < length; ++i) job->pcm[i] = static_cast<float>(pcm[i]) / 32768.0f;

  if (argc >= 3) {
    napi_value options = argv[2];
    napi_value language = property(env, options, "language");
    if (!get_int(env, options, "threads", job->threads) || !get_int(env, options, "audioCtx", job->audio_ctx) ||
        !get_bool(env, options, "noTimestamps", job->no_timestamps) ||
        !get_bool(env, options, "singleSegment", job->single_segment) ||
        (language != nullptr && !get_string(env, language, job->language))) {
      napi_throw_type_error(env, nullptr, "transcribe(): threads and audioCtx must be numbers, language a string");
      return nullptr;
    }
  }

  napi_value result, promise, abort, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  auto *flag = new AbortFlag(job->abort);
  if (napi_create_function(env, "abort", NAPI_AUTO_LENGTH, Abort, flag, &abort) != napi_ok) {
    delete flag;
    CHECK(napi_generic_failure);
  }
  CHECK(napi_add_finalizer(
      env, abort, flag, [](napi_env, void *data, void *) { delete static_cast<AbortFlag *>(data); }, nullptr, nullptr));
  CHECK(napi_create_string_utf8(env, "whisper.transcribe", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, nullptr, name, transcribe_execute, transcribe_complete, job.get(), &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  job.release();
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "promise", promise));
  CHECK(napi_set_named_property(env, result, "abort", abort));
  return result;
}

// ---------------------------------------------------------------------------------------------------------------

napi_value Release(napi_env env, napi_callback_info info) {
  ContextCall call;
  if (!call.read(env, info, "release(context)")) return nullptr;
  Context &context = **call.ref;
  bool now = false;
  {
    std::lock_guard<std::mutex> lock(context.mutex);
    if (context.busy) {
      context.release_when_idle = true;
    } else {
      context.free_model();
      now = true;
    }
  }
  napi_value result;
  CHECK(napi_get_boolean(env, now, &result));
  return result;
}

napi_value SystemInfo(napi_env env, napi_callback_info) { return make_string(env, whisper_print_system_info()); }

napi_value Version(napi_env env, napi_callback_info) { return make_string(env, whisper_version()); }

napi_value Init(napi_env env, napi_value exports) {
  whisper_log_set(on_log, nullptr);
  const napi_property_descriptor properties[] = {
      {"load", nullptr, Load, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transcribe", nullptr, Transcribe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"systemInfo", nullptr, SystemInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"version", nullptr, Version, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  CHECK(napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties));
  return exports;
}

}  // namespace

NAPI_MODULE(jarvis_whisper, Init)
