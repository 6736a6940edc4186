// Event readers of the runtime: the ring buffer (mmapped pages read from JS) and the perf buffer
// (libbpf perf_buffer under a uv_poll). The runtime's addon.cc calls InitEvents once per env.
#ifndef BPF2TS_EVENTS_H
#define BPF2TS_EVENTS_H

#include <napi.h>

namespace bpf2ts {

// Adds the classes RingBufHandle and PerfBufHandle to `exports` (typed in src/events-addon.ts).
void InitEvents(Napi::Env env, Napi::Object exports);

namespace events {
void InitRingBuf(Napi::Env env, Napi::Object exports);
void InitPerfBuf(Napi::Env env, Napi::Object exports);

// Calls `fn(args)` from a libuv callback (no JS on the stack). An exception thrown by the callback
// becomes the process's 'uncaughtException' instead of staying pending on the env.
void CallFromLoop(Napi::Env env, const Napi::FunctionReference& fn, Napi::Object recv,
                  const std::initializer_list<napi_value>& args, Napi::AsyncContext& ctx);
}  // namespace events

}  // namespace bpf2ts

#endif
