// What the hook (abort-hook.cpp) gives whisper.cpp's graph runs on the calling thread, between begin and end.
#pragma once
#include <atomic>

struct ggml_threadpool;

/**
 * From here on, graphs run on this thread stop when `abort` becomes true and use `pool`'s threads (kept between
 * graphs; null: a pool made and joined for every graph, as whisper.cpp does by itself).
 */
void jarvis_whisper_begin(std::atomic<bool> *abort, ggml_threadpool *pool);

/** Detaches the flag and the pool from every backend the run used and pauses the pool (its threads sleep). */
void jarvis_whisper_end();
