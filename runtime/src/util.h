// Small helpers shared by the addon's .cc files: errno errors, argument access, libbpf log capture.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace bpf2ts {

// Bumped whenever a native function changes shape; the TypeScript loader refuses a mismatch.
constexpr int kAbiVersion = 7;

// libbpf's own error codes (enum libbpf_errno, 4000…), which strerror does not know.
inline const char* LibbpfErrnoName(int err) {
  static const char* const names[] = {"LIBELF", "FORMAT", "KVERSION", "ENDIAN", "INTERNAL", "RELOC", "LOAD",
                                      "VERIFY", "PROG2BIG", "KVER", "PROGTYPE", "WRNGPID", "INVSEQ", "NLPARSE"};
  if (err >= 4000 && err < 4000 + static_cast<int>(sizeof names / sizeof names[0])) return names[err - 4000];
  return nullptr;
}

// "EPERM" for EPERM, "LIBBPF_FORMAT" for libbpf's codes, or "E<n>".
inline std::string ErrnoName(int err) {
  if (const char* l = LibbpfErrnoName(err)) return std::string("LIBBPF_") + l;
  const char* n = strerrorname_np(err);
  return n ? std::string(n) : "E" + std::to_string(err);
}

inline std::string ErrnoText(int err) {
  if (LibbpfErrnoName(err) != nullptr) {
    char buf[128];
    libbpf_strerror(err, buf, sizeof buf);
    return buf;
  }
  return std::strerror(err);
}

// A JS Error "context: strerror(err)" with `errno` (positive) and `code` ("EPERM") fields.
inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string& context) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, context + ": " + ErrnoText(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  return e;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const std::string& context) {
  throw ErrnoError(env, err, context);
}

inline void RequireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments");
}

inline int32_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int32Value();
}

inline uint32_t UintArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Uint32Value();
}

inline std::string StrArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::String>().Utf8Value();
}

inline bool IsMissing(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

// Bytes of a Uint8Array argument (or null/undefined → nullptr, size 0).
struct Bytes {
  uint8_t* data = nullptr;
  size_t size = 0;
};

inline Bytes BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsMissing(info[i])) return {};
  if (!info[i].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "expected a Uint8Array");
  auto a = info[i].As<Napi::Uint8Array>();
  return {a.Data(), a.ByteLength()};
}

// libbpf's print callback writes here while a load/open/attach runs on this thread, so a failure
// can carry libbpf's own explanation (and the verifier log) instead of losing it on stderr.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  const std::string& text() const { return text_; }
  static void Append(const char* s);

 private:
  std::string text_;
  LogCapture* prev_;
};

// Installs the print callback (once, at module init).
void InstallLibbpfPrint();

// Per-environment state (each worker thread loads the addon into its own env): the constructors
// that `From()` checks instances against.
struct AddonData {
  Napi::FunctionReference object_ctor;
  Napi::FunctionReference link_ctor;
};

inline AddonData& Data(Napi::Env env) {
  AddonData* d = env.GetInstanceData<AddonData>();
  if (d == nullptr) {
    d = new AddonData();
    env.SetInstanceData(d);  // deleted by Node when the env goes away
  }
  return *d;
}

// Module-init hooks of each .cc file.
void InitObject(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitLinks(Napi::Env env, Napi::Object exports);
void InitProgs(Napi::Env env, Napi::Object exports);
void InitFeatures(Napi::Env env, Napi::Object exports);

}  // namespace bpf2ts
