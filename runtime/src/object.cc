// Opening, inspecting, configuring and loading a BPF object from memory.
#include "object.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <system_error>
#include <thread>

#include "util.h"

namespace bpf2ts {

namespace {
constexpr size_t kLogBufSize = 4 * 1024 * 1024;
}  // namespace

void NativeObject::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "NativeObject",
                                 {
                                     InstanceMethod("programs", &NativeObject::Programs),
                                     InstanceMethod("maps", &NativeObject::Maps),
                                     InstanceMethod("setMaxEntries", &NativeObject::SetMaxEntries),
                                     InstanceMethod("setKeySize", &NativeObject::SetKeySize),
                                     InstanceMethod("setValueSize", &NativeObject::SetValueSize),
                                     InstanceMethod("setAutocreate", &NativeObject::SetAutocreate),
                                     InstanceMethod("reuseFd", &NativeObject::ReuseFd),
                                     InstanceMethod("setInnerMapFd", &NativeObject::SetInnerMapFd),
                                     InstanceMethod("setAttachTarget", &NativeObject::SetAttachTarget),
                                     InstanceMethod("initialValue", &NativeObject::InitialValue),
                                     InstanceMethod("setInitialValue", &NativeObject::SetInitialValue),
                                     InstanceMethod("setPinPath", &NativeObject::SetPinPath),
                                     InstanceMethod("setAutoload", &NativeObject::SetAutoload),
                                     InstanceMethod("setLogLevel", &NativeObject::SetLogLevel),
                                     InstanceMethod("load", &NativeObject::Load),
                                     InstanceMethod("loadAsync", &NativeObject::LoadAsync),
                                     InstanceMethod("abandonLoad", &NativeObject::AbandonLoad),
                                     InstanceMethod("programFd", &NativeObject::ProgramFd),
                                     InstanceMethod("mapFd", &NativeObject::MapFd),
                                     InstanceMethod("programLog", &NativeObject::ProgramLog),
                                     InstanceMethod("mmap", &NativeObject::Mmap),
                                     InstanceMethod("close", &NativeObject::Close),
                                 });
  Data(env).object_ctor = Napi::Persistent(f);
  exports.Set("NativeObject", f);
}

// new NativeObject(elf: Uint8Array, name: string, btfPath?: string, pinRoot?: string)
NativeObject::NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 2, "NativeObject");
  Bytes elf = BytesArg(info, 0);
  if (elf.size == 0) throw Napi::TypeError::New(env, "NativeObject: empty object buffer");
  elf_.assign(elf.data, elf.data + elf.size);
  std::string name = StrArg(info, 1);
  std::string btf = info.Length() > 2 && !IsMissing(info[2]) ? StrArg(info, 2) : "";
  std::string pin = info.Length() > 3 && !IsMissing(info[3]) ? StrArg(info, 3) : "";
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  opts.object_name = name.c_str();
  if (!btf.empty()) opts.btf_custom_path = btf.c_str();
  if (!pin.empty()) opts.pin_root_path = pin.c_str();
  LogCapture log;
  bpf_object* obj = bpf_object__open_mem(elf_.data(), elf_.size(), &opts);
  if (obj == nullptr) {
    int err = errno;
    Napi::Error e = ErrnoError(env, err, "open object " + name);
    e.Set("log", Napi::String::New(env, log.text()));
    throw e;
  }
  obj_ = obj;
}

// Reached from the garbage collector only when JS can no longer reach this object, its variables or
// their buffers (each Variable holds the object), so the mappings can go without detaching.
NativeObject::~NativeObject() { Release(false); }

void NativeObject::Release(bool detach) {
  for (auto& ref : mmaps_) {
    if (detach && !ref.IsEmpty()) {
      Napi::ArrayBuffer ab = ref.Value();
      if (!ab.IsEmpty() && !ab.IsDetached()) ab.Detach();
    }
    ref.Reset();
  }
  mmaps_.clear();
  for (auto& m : mappings_) munmap(m.first, m.second);
  mappings_.clear();
  if (obj_ != nullptr) bpf_object__close(obj_);
  obj_ = nullptr;
  elf_.clear();
  elf_.shrink_to_fit();
  log_bufs_.clear();
}

NativeObject* NativeObject::From(const Napi::Value& v) {
  Napi::FunctionReference& ctor = Data(v.Env()).object_ctor;
  if (!v.IsObject() || ctor.IsEmpty() || !v.As<Napi::Object>().InstanceOf(ctor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a NativeObject");
  return Unwrap(v.As<Napi::Object>());
}

bpf_object* NativeObject::Live(Napi::Env env) {
  if (obj_ == nullptr) ThrowErrno(env, EBADF, "object is closed");
  if (loading_) ThrowErrno(env, EBUSY, "object is being loaded");
  return obj_;
}

bpf_program* NativeObject::Program(Napi::Env env, const std::string& name) {
  bpf_program* p = bpf_object__find_program_by_name(Live(env), name.c_str());
  if (p == nullptr) ThrowErrno(env, ENOENT, "program " + name);
  return p;
}

bpf_map* NativeObject::Map(Napi::Env env, const std::string& name) {
  bpf_map* m = bpf_object__find_map_by_name(Live(env), name.c_str());
  if (m == nullptr) ThrowErrno(env, ENOENT, "map " + name);
  return m;
}

Napi::Value NativeObject::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Live(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_program* p;
  bpf_object__for_each_program(p, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("type", static_cast<double>(bpf_program__type(p)));
    const char* tn = libbpf_bpf_prog_type_str(bpf_program__type(p));
    o.Set("typeName", tn ? tn : "unknown");
    o.Set("attachType", static_cast<double>(bpf_program__expected_attach_type(p)));
    const char* an = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(p));
    o.Set("attachTypeName", an ? an : "unknown");
    o.Set("insnCount", static_cast<double>(bpf_program__insn_cnt(p)));
    o.Set("autoload", bpf_program__autoload(p));
    o.Set("fd", bpf_program__fd(p));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value NativeObject::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Live(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", static_cast<double>(bpf_map__type(m)));
    const char* tn = libbpf_bpf_map_type_str(bpf_map__type(m));
    o.Set("typeName", tn ? tn : "unknown");
    o.Set("keySize", bpf_map__key_size(m));
    o.Set("valueSize", bpf_map__value_size(m));
    o.Set("maxEntries", bpf_map__max_entries(m));
    o.Set("flags", bpf_map__map_flags(m));
    o.Set("internal", bpf_map__is_internal(m));
    const char* pin = bpf_map__pin_path(m);
    if (pin != nullptr) o.Set("pinPath", pin);
    o.Set("fd", bpf_map__fd(m));
    out.Set(i++, o);
  }
  return out;
}

Napi::Value NativeObject::SetMaxEntries(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setMaxEntries");
  std::string name = StrArg(info, 0);
  int err = bpf_map__set_max_entries(Map(info.Env(), name), UintArg(info, 1));
  if (err) ThrowErrno(info.Env(), err, "resize map " + name);
  return info.Env().Undefined();
}

Napi::Value NativeObject::SetKeySize(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setKeySize");
  std::string name = StrArg(info, 0);
  int err = bpf_map__set_key_size(Map(info.Env(), name), UintArg(info, 1));
  if (err) ThrowErrno(info.Env(), err, "set key size of map " + name);
  return info.Env().Undefined();
}

Napi::Value NativeObject::SetValueSize(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setValueSize");
  std::string name = StrArg(info, 0);
  int err = bpf_map__set_value_size(Map(info.Env(), name), UintArg(info, 1));
  if (err) ThrowErrno(info.Env(), err, "set value size of map " + name);
  return info.Env().Undefined();
}

Napi::Value NativeObject::SetAutocreate(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setAutocreate");
  std::string name = StrArg(info, 0);
  int err = bpf_map__set_autocreate(Map(info.Env(), name), info[1].ToBoolean());
  if (err) ThrowErrno(info.Env(), err, "set autocreate of map " + name);
  return info.Env().Undefined();
}

// reuseFd(map, fd): the object uses the existing map `fd` instead of creating its own (libbpf dups
// the fd; the caller keeps its own).
Napi::Value NativeObject::ReuseFd(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "reuseFd");
  std::string name = StrArg(info, 0);
  int err = bpf_map__reuse_fd(Map(info.Env(), name), IntArg(info, 1));
  if (err) ThrowErrno(info.Env(), err, "reuse fd for map " + name);
  return info.Env().Undefined();
}

// setInnerMapFd(map, fd): a map-in-map's inner map template, for one declared without __array().
Napi::Value NativeObject::SetInnerMapFd(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setInnerMapFd");
  std::string name = StrArg(info, 0);
  int err = bpf_map__set_inner_map_fd(Map(info.Env(), name), IntArg(info, 1));
  if (err) ThrowErrno(info.Env(), err, "set inner map of map " + name);
  return info.Env().Undefined();
}

// setAttachTarget(program, name): another kernel function/tracepoint for a BTF-attached program;
// libbpf looks it up in the kernel's BTF (vmlinux, then modules) right away.
Napi::Value NativeObject::SetAttachTarget(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setAttachTarget");
  std::string name = StrArg(info, 0);
  std::string target = StrArg(info, 1);
  LogCapture log;
  int err = bpf_program__set_attach_target(Program(info.Env(), name), 0, target.c_str());
  if (err) {
    Napi::Error e = ErrnoError(info.Env(), err, "set attach target of program " + name + " to " + target +
                                                    (err == -ESRCH || err == -ENOENT ? " (no such function or tracepoint in the kernel's BTF)" : ""));
    e.Set("log", Napi::String::New(info.Env(), log.text()));
    throw e;
  }
  return info.Env().Undefined();
}

// A copy of the map's initial value (before load: the section's bytes).
Napi::Value NativeObject::InitialValue(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "initialValue");
  size_t size = 0;
  const void* data = bpf_map__initial_value(Map(info.Env(), StrArg(info, 0)), &size);
  if (data == nullptr) return info.Env().Undefined();
  return Napi::Buffer<uint8_t>::Copy(info.Env(), static_cast<const uint8_t*>(data), size);
}

Napi::Value NativeObject::SetInitialValue(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setInitialValue");
  std::string name = StrArg(info, 0);
  Bytes b = BytesArg(info, 1);
  int err = bpf_map__set_initial_value(Map(info.Env(), name), b.data, b.size);
  if (err) ThrowErrno(info.Env(), err, "set initial value of " + name);
  return info.Env().Undefined();
}

Napi::Value NativeObject::SetPinPath(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setPinPath");
  std::string name = StrArg(info, 0);
  std::string path = IsMissing(info[1]) ? "" : StrArg(info, 1);
  int err = bpf_map__set_pin_path(Map(info.Env(), name), path.empty() ? nullptr : path.c_str());
  if (err) ThrowErrno(info.Env(), err, "set pin path of " + name);
  return info.Env().Undefined();
}

Napi::Value NativeObject::SetAutoload(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "setAutoload");
  std::string name = StrArg(info, 0);
  int err = bpf_program__set_autoload(Program(info.Env(), name), info[1].ToBoolean());
  if (err) ThrowErrno(info.Env(), err, "set autoload of " + name);
  return info.Env().Undefined();
}

// Gives every program its own log buffer at `level`, so the verifier log of a successful load can
// be read too (libbpf only prints it on failure).
Napi::Value NativeObject::SetLogLevel(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "setLogLevel");
  uint32_t level = UintArg(info, 0);
  bpf_object* obj = Live(info.Env());
  bpf_program* p;
  bpf_object__for_each_program(p, obj) {
    bpf_program__set_log_level(p, level);
    if (level > 0) {
      log_bufs_.push_back(std::make_unique<std::vector<char>>(kLogBufSize, '\0'));
      bpf_program__set_log_buf(p, log_bufs_.back()->data(), kLogBufSize);
    }
  }
  return info.Env().Undefined();
}

// load(): throws an errno error with `log` (everything libbpf said, verifier log included).
Napi::Value NativeObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Live(env);
  if (loaded_) ThrowErrno(env, EALREADY, "object already loaded");
  LogCapture log;
  int err = bpf_object__load(obj);
  if (err) {
    Napi::Error e = ErrnoError(env, err, std::string("load object ") + bpf_object__name(obj));
    e.Set("log", Napi::String::New(env, log.text()));
    throw e;
  }
  loaded_ = true;
  // libbpf no longer needs the ELF image.
  return Napi::String::New(env, log.text());
}

// A load on a thread of its own, not libuv's pool: a load that never returns (libbpf 1.1 spins on
// some corrupted BTF) would hold a pool thread forever, and libuv joins its pool at exit, so the
// process could never exit. The result comes back through a thread-safe function, which keeps the
// event loop alive while the load runs; AbandonLoad (the JS timeout) unrefs it, so the loop can end,
// and hands the bpf_object and the buffers libbpf still reads to the thread, which frees them if the
// load ever returns.
struct LoadJob {
  explicit LoadJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  std::mutex mu;
  bool done = false;       // guarded by mu
  bool abandoned = false;  // guarded by mu
  bpf_object* obj = nullptr;
  int err = 0;
  std::string text;
  // Only once abandoned: what libbpf may still read or write until bpf_object__load returns.
  std::vector<uint8_t> elf;
  std::vector<std::unique_ptr<std::vector<char>>> log_bufs;
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred deferred;  // JS thread only
  Napi::ObjectReference self;        // JS thread only: keeps the object alive until the result is in
};

// loadAsync(): Promise<string>, rejected like load() throws. The object is busy (EBUSY) until then.
Napi::Value NativeObject::LoadAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bpf_object* obj = Live(env);
  if (loaded_) ThrowErrno(env, EALREADY, "object already loaded");
  auto job = std::make_shared<LoadJob>(env);
  job->obj = obj;
  job->self = Napi::Persistent(info.This().As<Napi::Object>());
  job->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "bpf2ts:load", 0, 1);
  NativeObject* self = this;
  try {
    std::thread([job, self]() {
      LogCapture log;  // thread-local: captures what libbpf prints on this thread
      int err = bpf_object__load(job->obj);
      {
        std::lock_guard<std::mutex> lock(job->mu);
        job->done = true;
        job->err = err;
        job->text = log.text();
        if (job->abandoned) {
          bpf_object__close(job->obj);
          job->obj = nullptr;
          job->tsfn.Release();
          return;
        }
      }
      job->tsfn.BlockingCall([job, self](Napi::Env env, Napi::Function) { self->FinishLoad(env, *job); });
      job->tsfn.Release();
    }).detach();
  } catch (const std::system_error& e) {
    job->tsfn.Release();
    job->self.Reset();
    ThrowErrno(env, e.code().value(), "load: cannot start a thread");
  }
  loading_ = true;
  job_ = job;
  return job->deferred.Promise();
}

void NativeObject::FinishLoad(Napi::Env env, LoadJob& job) {
  Napi::HandleScope scope(env);
  loading_ = false;
  job_.reset();
  if (job.err) {
    Napi::Error e = ErrnoError(env, job.err, std::string("load object ") + bpf_object__name(job.obj));
    e.Set("log", Napi::String::New(env, job.text));
    job.deferred.Reject(e.Value());
  } else {
    loaded_ = true;
    job.deferred.Resolve(Napi::String::New(env, job.text));
  }
  job.self.Reset();
}

// abandonLoad(): true when a running loadAsync was given up (its promise never settles; the object
// is left closed), false when there is none or it has already finished (its result is on its way).
Napi::Value NativeObject::AbandonLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<LoadJob> job = job_;
  if (!job) return Napi::Boolean::New(env, false);
  {
    std::lock_guard<std::mutex> lock(job->mu);
    if (job->done) return Napi::Boolean::New(env, false);
    job->abandoned = true;
    job->elf = std::move(elf_);  // moving a vector keeps its buffer where libbpf reads it
    job->log_bufs = std::move(log_bufs_);
  }
  obj_ = nullptr;  // the load thread owns it now
  loading_ = false;
  job_.reset();
  job->self.Reset();
  job->tsfn.Unref(env);
  return Napi::Boolean::New(env, true);
}

Napi::Value NativeObject::ProgramFd(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "programFd");
  return Napi::Number::New(info.Env(), bpf_program__fd(Program(info.Env(), StrArg(info, 0))));
}

Napi::Value NativeObject::MapFd(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "mapFd");
  return Napi::Number::New(info.Env(), bpf_map__fd(Map(info.Env(), StrArg(info, 0))));
}

Napi::Value NativeObject::ProgramLog(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "programLog");
  size_t size = 0;
  const char* buf = bpf_program__log_buf(Program(info.Env(), StrArg(info, 0)), &size);
  if (buf == nullptr) return info.Env().Undefined();
  return Napi::String::New(info.Env(), buf, strnlen(buf, size));
}

// The live bytes of a mmapable map (.bss/.data) as an ArrayBuffer over a shared mapping of the map
// fd (libbpf 1.1 only remaps its own copy for skeletons), unmapped and detached at close. Read-only
// sections (.rodata, frozen at load) come back as a copy of what was loaded: a JS write into a
// PROT_READ page would kill the process.
Napi::Value NativeObject::Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 1, "mmap");
  std::string name = StrArg(info, 0);
  bpf_map* m = Map(env, name);
  if (!loaded_) ThrowErrno(env, EINVAL, "mmap " + name + ": object not loaded");
  size_t size = bpf_map__value_size(m);
  if (bpf_map__map_flags(m) & BPF_F_RDONLY_PROG) {
    size_t isize = 0;
    const void* init = bpf_map__initial_value(m, &isize);
    if (init == nullptr) return env.Undefined();
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, isize);
    memcpy(copy.Data(), init, isize);
    return copy;
  }
  if (!(bpf_map__map_flags(m) & BPF_F_MMAPABLE) || bpf_map__max_entries(m) != 1) return env.Undefined();
  long page = sysconf(_SC_PAGESIZE);
  size_t len = (size + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap " + name);
  mappings_.emplace_back(p, len);
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, p, size);
  mmaps_.push_back(Napi::Weak(ab));
  return ab;
}

Napi::Value NativeObject::Close(const Napi::CallbackInfo& info) {
  if (loading_) ThrowErrno(info.Env(), EBUSY, "close: object is being loaded");
  Release(true);
  return info.Env().Undefined();
}

void InitObject(Napi::Env env, Napi::Object exports) { NativeObject::Init(env, exports); }

}  // namespace bpf2ts
