// Perf buffer reader, native half: libbpf's perf_buffer (one perf ring per CPU) under a uv_poll.
//
// For kernels before 5.8 and programs using bpf_perf_event_output. libbpf owns the per-CPU perf
// events, their mmaps and an epoll fd over them; we watch that epoll fd from the libuv loop. When it
// is readable, JS calls consume(): perf_buffer__consume walks every CPU's ring and our callbacks copy
// the samples into one batch buffer, which crosses to JS in one piece:
//
//   repeated { u32 cpu; u32 size; u8 data[size]; pad to 8 }
//
// Lost-sample notifications (PERF_RECORD_LOST) are collected per CPU in the same pass and returned
// next to the batch, so JS can count them and never skips them silently.

#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "events.h"
#include "util.h"

namespace bpf2ts {
namespace events {

class PerfBufHandle : public Napi::ObjectWrap<PerfBufHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PerfBufHandle",
                       {
                           InstanceAccessor<&PerfBufHandle::Closed>("closed"),
                           InstanceAccessor<&PerfBufHandle::BufferCount>("bufferCount"),
                           InstanceMethod<&PerfBufHandle::Start>("start"),
                           InstanceMethod<&PerfBufHandle::Stop>("stop"),
                           InstanceMethod<&PerfBufHandle::Consume>("consume"),
                           InstanceMethod<&PerfBufHandle::Close>("close"),
                       });
  }

  // new PerfBufHandle(mapFd, pagesPerCpu)
  PerfBufHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PerfBufHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(env, "perfbuf: expected (mapFd, pagesPerCpu)");
    }
    int map_fd = IntArg(info, 0);
    uint32_t pages = UintArg(info, 1);
    if (pages == 0 || (pages & (pages - 1)) != 0) {
      throw Napi::RangeError::New(env, "perfbuf: pagesPerCpu must be a power of two, got " + std::to_string(pages));
    }
    pb_ = perf_buffer__new(map_fd, pages, OnSample, OnLost, this, nullptr);
    if (!pb_) {
      int err = errno;
      pb_ = nullptr;
      ThrowErrno(env, err, "perfbuf: perf_buffer__new on map fd " + std::to_string(map_fd));
    }
    batch_.reserve(64 * 1024);
  }

  ~PerfBufHandle() override { Free(); }

 private:
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), pb_ == nullptr); }
  Napi::Value BufferCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), pb_ ? static_cast<double>(perf_buffer__buffer_cnt(pb_)) : 0);
  }

  // start(onReadable: (status?: number) => void)
  //
  // The epoll fd stays registered with the loop from the first start() until close(); stop() only
  // unrefs the handle and mutes the callback. Re-registering would lose wakeups: perf_poll() clears
  // the ring's readiness when it reports it, and epoll polls a file twice when it is added (once in
  // epoll_ctl, once in epoll_wait), so data that arrived before the registration would be reported
  // to nobody. JS drains once after every start() for the same reason (see perf.ts).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!pb_) ThrowErrno(env, EBADF, "perfbuf: reader is closed");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "perfbuf: start expects a callback");
    on_readable_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      int rc = uv_poll_init(loop, poll_, perf_buffer__epoll_fd(pb_));
      if (rc < 0) {
        delete poll_;
        poll_ = nullptr;
        ThrowErrno(env, -rc, "perfbuf: uv_poll_init");
      }
      poll_->data = this;
      async_ = std::make_unique<Napi::AsyncContext>(env, "bpf2ts:PerfEventArray");
      rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (rc < 0) ThrowErrno(env, -rc, "perfbuf: uv_poll_start");
    }
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    listening_ = true;
    return env.Undefined();
  }

  // stop(): no callbacks, and the poll no longer keeps the process alive.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    listening_ = false;
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  // consume(): { batch: ArrayBuffer, count: number, lost: number[] /* cpu, n, cpu, n, … */ } or
  // undefined when nothing was pending. Never blocks.
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!pb_) ThrowErrno(env, EBADF, "perfbuf: reader is closed");
    batch_.clear();
    lost_.clear();
    count_ = 0;
    int rc = perf_buffer__consume(pb_);
    if (rc < 0 && count_ == 0 && lost_.empty()) ThrowErrno(env, -rc, "perfbuf: perf_buffer__consume");
    if (count_ == 0 && lost_.empty()) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, batch_.size());
    if (!batch_.empty()) memcpy(buf.Data(), batch_.data(), batch_.size());
    out.Set("batch", buf);
    out.Set("count", Napi::Number::New(env, static_cast<double>(count_)));
    Napi::Array lost = Napi::Array::New(env, lost_.size());
    for (size_t i = 0; i < lost_.size(); i++) lost.Set(i, Napi::Number::New(env, static_cast<double>(lost_[i])));
    out.Set("lost", lost);
    // Do not let one flood keep a huge batch buffer alive between wakeups.
    if (batch_.capacity() > (8u << 20)) std::vector<uint8_t>().swap(batch_);
    return out;
  }

  // close(): idempotent; stops the poll before libbpf closes the epoll fd.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    on_readable_.Reset();
    return info.Env().Undefined();
  }

  void Free() {
    listening_ = false;
    if (poll_) {
      uv_poll_stop(poll_);  // removes the epoll fd from the loop before libbpf closes it
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (pb_) {
      perf_buffer__free(pb_);
      pb_ = nullptr;
    }
  }

  static void OnSample(void* ctx, int cpu, void* data, __u32 size) {
    PerfBufHandle* self = static_cast<PerfBufHandle*>(ctx);
    std::vector<uint8_t>& b = self->batch_;
    size_t at = b.size();
    size_t padded = (static_cast<size_t>(size) + 7) & ~static_cast<size_t>(7);
    b.resize(at + 8 + padded);
    uint32_t hdr[2] = {static_cast<uint32_t>(cpu), size};
    memcpy(b.data() + at, hdr, sizeof hdr);
    memcpy(b.data() + at + 8, data, size);
    if (padded != size) memset(b.data() + at + 8 + size, 0, padded - size);
    self->count_++;
  }

  static void OnLost(void* ctx, int cpu, __u64 count) {
    PerfBufHandle* self = static_cast<PerfBufHandle*>(ctx);
    self->lost_.push_back(cpu);
    self->lost_.push_back(count);
  }

  static void OnPoll(uv_poll_t* poll, int status, int /*events*/) {
    PerfBufHandle* self = static_cast<PerfBufHandle*>(poll->data);
    if (!self || !self->pb_ || !self->listening_ || self->on_readable_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      CallFromLoop(env, self->on_readable_, self->Value(), {Napi::Number::New(env, -status)}, *self->async_);
    } else {
      CallFromLoop(env, self->on_readable_, self->Value(), {}, *self->async_);
    }
  }

  struct perf_buffer* pb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool listening_ = false;
  Napi::FunctionReference on_readable_;
  std::unique_ptr<Napi::AsyncContext> async_;
  std::vector<uint8_t> batch_;
  std::vector<uint64_t> lost_;
  uint64_t count_ = 0;
};

void InitPerfBuf(Napi::Env env, Napi::Object exports) { exports.Set("PerfBufHandle", PerfBufHandle::Define(env)); }

}  // namespace events
}  // namespace bpf2ts
