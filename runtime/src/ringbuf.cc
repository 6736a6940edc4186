// Ring buffer reader, native half: maps a BPF_MAP_TYPE_RINGBUF's pages and watches its fd.
//
// JS reads the records itself (src/ringbuf.ts), as cilium/ebpf's reader does: this file only
//  - mmaps the consumer page read-write and the producer page + data pages read-only (the kernel maps
//    the data twice back to back, so a record never wraps; see libbpf's ring_buffer__add and the
//    kernel's kernel/bpf/ringbuf.c),
//  - hands them to JS as external ArrayBuffers (zero copy),
//  - runs a uv_poll on a private dup of the map fd; the kernel reports EPOLLIN while
//    producer_pos != consumer_pos (level-triggered), and the callback asks JS to drain.
//
// Memory safety: the mappings outlive every JS object that can reach them. close() first detaches
// both ArrayBuffers (views over them become zero-length, so JS can no longer touch the pages) and
// then unmaps. Without close(), the mapping is refcounted by the handle and the two ArrayBuffers and
// unmapped when the last of them is garbage collected.

#include "events.h"
#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include <string>

namespace bpf2ts {
namespace events {

namespace {

// The two mmapped regions of one ring; freed when its last owner lets go.
struct RingMapping {
  void* consumer = MAP_FAILED;  // page_size bytes, consumer_pos at offset 0
  size_t consumer_len = 0;
  void* producer = MAP_FAILED;  // page_size + 2 * size bytes: producer_pos at 0, data at page_size
  size_t producer_len = 0;
  int owners = 0;

  void Unmap() {
    if (consumer != MAP_FAILED) munmap(consumer, consumer_len);
    if (producer != MAP_FAILED) munmap(producer, producer_len);
    consumer = producer = MAP_FAILED;
  }
  void Release() {
    if (--owners == 0) {
      Unmap();
      delete this;
    }
  }
};

void ReleaseFromBuffer(Napi::Env, void*, RingMapping* mapping) { mapping->Release(); }

}  // namespace

class RingBufHandle : public Napi::ObjectWrap<RingBufHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBufHandle",
                       {
                           InstanceAccessor<&RingBufHandle::Consumer>("consumer"),
                           InstanceAccessor<&RingBufHandle::Producer>("producer"),
                           InstanceAccessor<&RingBufHandle::Size>("size"),
                           InstanceAccessor<&RingBufHandle::PageSize>("pageSize"),
                           InstanceAccessor<&RingBufHandle::Closed>("closed"),
                           InstanceMethod<&RingBufHandle::Start>("start"),
                           InstanceMethod<&RingBufHandle::Stop>("stop"),
                           InstanceMethod<&RingBufHandle::Close>("close"),
                       });
  }

  // new RingBufHandle(mapFd)
  RingBufHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBufHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "ringbuf: expected a map fd");
    int map_fd = info[0].As<Napi::Number>().Int32Value();

    struct bpf_map_info map_info;
    memset(&map_info, 0, sizeof(map_info));
    __u32 len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(map_fd, &map_info, &len) < 0) {
      ThrowErrno(env, errno, "ringbuf: map info of fd " + std::to_string(map_fd));
    }
    if (map_info.type != BPF_MAP_TYPE_RINGBUF) {
      ThrowErrno(env, EINVAL, "ringbuf: map '" + std::string(map_info.name) + "' has type " +
                                  std::to_string(map_info.type) + ", not BPF_MAP_TYPE_RINGBUF");
    }
    size_ = map_info.max_entries;
    page_size_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));

    // A private fd: the poll must not depend on the map's fd staying open (or its number reused).
    fd_ = fcntl(map_fd, F_DUPFD_CLOEXEC, 3);
    if (fd_ < 0) ThrowErrno(env, errno, "ringbuf: dup map fd");

    RingMapping* m = new RingMapping();
    m->consumer_len = page_size_;
    m->consumer = mmap(nullptr, m->consumer_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (m->consumer == MAP_FAILED) {
      int err = errno;
      delete m;
      CloseFd();
      ThrowErrno(env, err, "ringbuf: mmap consumer page");
    }
    // The kernel exposes the data pages twice in a row after the producer page.
    m->producer_len = page_size_ + 2 * static_cast<size_t>(size_);
    m->producer = mmap(nullptr, m->producer_len, PROT_READ, MAP_SHARED, fd_, page_size_);
    if (m->producer == MAP_FAILED) {
      int err = errno;
      m->Unmap();
      delete m;
      CloseFd();
      ThrowErrno(env, err, "ringbuf: mmap producer and data pages of " + std::to_string(size_) + " bytes");
    }
    mapping_ = m;
    m->owners = 3;  // this handle + the two ArrayBuffers
    consumer_ = Napi::Persistent(
        Napi::ArrayBuffer::New(env, m->consumer, m->consumer_len, ReleaseFromBuffer, m));
    producer_ = Napi::Persistent(
        Napi::ArrayBuffer::New(env, m->producer, m->producer_len, ReleaseFromBuffer, m));
  }

  ~RingBufHandle() override {
    StopPoll();
    if (mapping_) mapping_->Release();
    CloseFd();
  }

 private:
  Napi::Value Consumer(const Napi::CallbackInfo& info) {
    return closed_ || consumer_.IsEmpty() ? info.Env().Undefined() : consumer_.Value();
  }
  Napi::Value Producer(const Napi::CallbackInfo& info) {
    return closed_ || producer_.IsEmpty() ? info.Env().Undefined() : producer_.Value();
  }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), size_); }
  Napi::Value PageSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(page_size_));
  }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

  // start(onReadable: (status?: number) => void): calls onReadable on the loop whenever the ring has
  // data (again after each return while data is left: the poll is level-triggered).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) ThrowErrno(env, EBADF, "ringbuf: reader is closed");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "ringbuf: start expects a callback");
    on_readable_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      int rc = uv_poll_init(loop, poll_, fd_);
      if (rc < 0) {
        delete poll_;
        poll_ = nullptr;
        ThrowErrno(env, -rc, "ringbuf: uv_poll_init");
      }
      poll_->data = this;
      async_ = std::make_unique<Napi::AsyncContext>(env, "bpf2ts:RingBuf");
    }
    int rc = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (rc < 0) ThrowErrno(env, -rc, "ringbuf: uv_poll_start");
    return env.Undefined();
  }

  // stop(): no more callbacks until start() again. The poll handle stays for a cheap restart.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }

  // close(): idempotent. Detaches the ArrayBuffers before unmapping, so no JS view can reach the
  // pages afterwards. Safe to call from inside the onReadable callback (everything runs on the loop
  // thread; the JS reader checks `closed` before touching memory again).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Undefined();
    closed_ = true;
    StopPoll();
    for (Napi::Reference<Napi::ArrayBuffer>* ref : {&consumer_, &producer_}) {
      if (!ref->IsEmpty()) {
        Napi::ArrayBuffer buf = ref->Value();
        if (!buf.IsEmpty() && !buf.IsDetached()) buf.Detach();
        ref->Reset();
      }
    }
    if (mapping_) {
      mapping_->Unmap();  // the buffers' finalizers later only drop their refcounts
      mapping_->Release();
      mapping_ = nullptr;
    }
    CloseFd();
    on_readable_.Reset();
    return info.Env().Undefined();
  }

  void CloseFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void StopPoll() {
    if (!poll_) return;
    uv_poll_stop(poll_);  // also removes the fd from the loop's epoll set, so closing it is safe
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  static void OnPoll(uv_poll_t* poll, int status, int /*events*/) {
    RingBufHandle* self = static_cast<RingBufHandle*>(poll->data);
    if (!self || self->closed_ || self->on_readable_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      CallFromLoop(env, self->on_readable_, self->Value(), {Napi::Number::New(env, -status)}, *self->async_);
    } else {
      CallFromLoop(env, self->on_readable_, self->Value(), {}, *self->async_);
    }
  }

  int fd_ = -1;
  uint32_t size_ = 0;
  size_t page_size_ = 0;
  bool closed_ = false;
  RingMapping* mapping_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> consumer_;
  Napi::Reference<Napi::ArrayBuffer> producer_;
  Napi::FunctionReference on_readable_;
  uv_poll_t* poll_ = nullptr;
  std::unique_ptr<Napi::AsyncContext> async_;
};

void CallFromLoop(Napi::Env env, const Napi::FunctionReference& fn, Napi::Object recv,
                  const std::initializer_list<napi_value>& args, Napi::AsyncContext& ctx) {
#ifdef NAPI_CPP_EXCEPTIONS
  try {
    fn.MakeCallback(recv, args, ctx);
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
#else
  fn.MakeCallback(recv, args, ctx);
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
#endif
}

void InitRingBuf(Napi::Env env, Napi::Object exports) { exports.Set("RingBufHandle", RingBufHandle::Define(env)); }

}  // namespace events

void InitEvents(Napi::Env env, Napi::Object exports) {
  events::InitRingBuf(env, exports);
  events::InitPerfBuf(env, exports);
}

}  // namespace bpf2ts
