// Module init: registers every native function and the libbpf print hook. The addon is thin on
// purpose: it wraps libbpf objects and fds; types, validation and policy live in TypeScript.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "events.h"
#include "util.h"

namespace bpf2ts {

namespace {
thread_local LogCapture* current_capture = nullptr;
bool debug_print = false;

int PrintHook(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (current_capture == nullptr && !debug_print) return 0;
  char buf[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  std::string line;
  if (n >= static_cast<int>(sizeof buf)) {
    // Verifier logs arrive as one huge message: format again into a buffer of the right size.
    line.resize(static_cast<size_t>(n) + 1);
    vsnprintf(line.data(), line.size(), fmt, args);
    line.resize(static_cast<size_t>(n));
  } else if (n > 0) {
    line.assign(buf, static_cast<size_t>(n));
  }
  if (debug_print) fprintf(stderr, "libbpf: %s", line.c_str());
  if (current_capture != nullptr && level != LIBBPF_DEBUG) LogCapture::Append(line.c_str());
  return 0;
}
}  // namespace

LogCapture::LogCapture() : prev_(current_capture) { current_capture = this; }
LogCapture::~LogCapture() { current_capture = prev_; }
void LogCapture::Append(const char* s) {
  if (current_capture != nullptr) current_capture->text_ += s;
}

void InstallLibbpfPrint() {
  const char* d = getenv("BPF2TS_LIBBPF_DEBUG");
  debug_print = d != nullptr && *d != '\0' && *d != '0';
  libbpf_set_print(PrintHook);
}

namespace {

Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "probeProgType");
  int r = libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(IntArg(info, 0)), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "probeMapType");
  int r = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(IntArg(info, 0)), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "probeHelper");
  int r = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(IntArg(info, 0)),
                                  static_cast<enum bpf_func_id>(IntArg(info, 1)), nullptr);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value MapTypeName(const Napi::CallbackInfo& info) {
  const char* s = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(IntArg(info, 0)));
  return s ? Napi::String::New(info.Env(), s) : info.Env().Undefined();
}

Napi::Value ProgTypeName(const Napi::CallbackInfo& info) {
  const char* s = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(IntArg(info, 0)));
  return s ? Napi::String::New(info.Env(), s) : info.Env().Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "closeFd");
  int fd = IntArg(info, 0);
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), libbpf_num_possible_cpus());
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType, "probeProgType"));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType, "probeMapType"));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper, "probeHelper"));
  exports.Set("mapTypeName", Napi::Function::New(env, MapTypeName, "mapTypeName"));
  exports.Set("progTypeName", Napi::Function::New(env, ProgTypeName, "progTypeName"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus, "numPossibleCpus"));
  InitObject(env, exports);
  InitMaps(env, exports);
  InitLinks(env, exports);
  InitProgs(env, exports);
  InitFeatures(env, exports);
  InitEvents(env, exports);
  return exports;
}

}  // namespace bpf2ts

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return bpf2ts::Init(env, exports); }
NODE_API_MODULE(bpf2ts, InitModule)
