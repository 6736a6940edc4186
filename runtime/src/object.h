// The native side of a BPF object: a libbpf `bpf_object` opened from memory, wrapped for JS.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

namespace bpf2ts {

struct LoadJob;

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeObject(const Napi::CallbackInfo& info);
  ~NativeObject() override;

  // The object behind a JS value, or a JS error if it is not one or it is closed.
  static NativeObject* From(const Napi::Value& v);
  bpf_program* Program(Napi::Env env, const std::string& name);
  bpf_map* Map(Napi::Env env, const std::string& name);

 private:
  bpf_object* Live(Napi::Env env);
  void Release(bool detach);

  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info);
  Napi::Value SetKeySize(const Napi::CallbackInfo& info);
  Napi::Value SetValueSize(const Napi::CallbackInfo& info);
  Napi::Value SetAutocreate(const Napi::CallbackInfo& info);
  Napi::Value ReuseFd(const Napi::CallbackInfo& info);
  Napi::Value SetInnerMapFd(const Napi::CallbackInfo& info);
  Napi::Value SetAttachTarget(const Napi::CallbackInfo& info);
  Napi::Value InitialValue(const Napi::CallbackInfo& info);
  Napi::Value SetInitialValue(const Napi::CallbackInfo& info);
  Napi::Value SetPinPath(const Napi::CallbackInfo& info);
  Napi::Value SetAutoload(const Napi::CallbackInfo& info);
  Napi::Value SetLogLevel(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value LoadAsync(const Napi::CallbackInfo& info);
  Napi::Value AbandonLoad(const Napi::CallbackInfo& info);
  void FinishLoad(Napi::Env env, LoadJob& job);
  Napi::Value ProgramFd(const Napi::CallbackInfo& info);
  Napi::Value MapFd(const Napi::CallbackInfo& info);
  Napi::Value ProgramLog(const Napi::CallbackInfo& info);
  Napi::Value Mmap(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bpf_object* obj_ = nullptr;
  bool loaded_ = false;
  bool loading_ = false;
  // The running loadAsync, if any.
  std::shared_ptr<LoadJob> job_;
  // libbpf parses the ELF lazily from this buffer until load, so it lives as long as the object.
  std::vector<uint8_t> elf_;
  // Views over mmapped globals: detached before the mapping goes away, so JS can never touch it.
  std::vector<Napi::Reference<Napi::ArrayBuffer>> mmaps_;
  // Our shared mappings of map fds (address, length).
  std::vector<std::pair<void*, size_t>> mappings_;
  // Per-program verifier log buffers, when a log level was asked for.
  std::vector<std::unique_ptr<std::vector<char>>> log_bufs_;
};

}  // namespace bpf2ts
