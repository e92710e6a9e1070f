// Force-included (-include) into the sources of the whisper library target by CMakeLists.txt, and nothing else.
//
// whisper.cpp creates its ggml CPU backends inside its opaque state, so two things cannot be given to them:
// - an abort callback: whisper.cpp checks whisper_full_params.abort_callback only between whole passes, after the
//   encoder (1.8 s for a 30 s window of a base-sized model on 2 cores) and after each decoder step, while ggml's CPU
//   backend can stop between two operations of a graph;
// - a thread pool: without one ggml starts and joins its threads for every graph, a decoder step each (15 ms a step
//   in this VM, where a sleeping core is slow to wake).
// This renames the one call through which whisper.cpp runs its graphs, so that it lands in
// jarvis_sched_graph_compute (abort-hook.cpp), which hands the scheduler's CPU backends the abort flag and the pool
// of the transcription running on this thread (jarvis_whisper_begin, abort-flag.h) and then calls the real
// ggml_backend_sched_graph_compute. whisper.cpp's sources themselves are not changed.
#pragma once
#define ggml_backend_sched_graph_compute jarvis_sched_graph_compute
