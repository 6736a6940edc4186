// Kernel function probes for choosing between program variants at load (libbpf-tools'
// trace_helpers: fentry_can_attach, vmlinux_btf_exists): BTF lookups and a trial fentry attach.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "util.h"

namespace bpf2ts {

namespace {

// The BTF type id of FUNC `name` in vmlinux (or in `module`'s split BTF): > 0 found, 0 absent,
// -errno when the BTF cannot be read.
int FindKernelFunc(const std::string& name, const std::string& module) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) return -errno;
  btf* mod = nullptr;
  if (!module.empty()) {
    mod = btf__load_module_btf(module.c_str(), vmlinux);
    if (mod == nullptr) {
      int err = errno;
      btf__free(vmlinux);
      return -err;
    }
  }
  int id = btf__find_by_name_kind(mod ? mod : vmlinux, name.c_str(), BTF_KIND_FUNC);
  btf__free(mod);
  btf__free(vmlinux);
  return id > 0 ? id : id == -ENOENT ? 0 : id;
}

// An fd of the kernel's BTF object of `module` (for attach_btf_obj_fd), or -errno.
int ModuleBtfFd(const std::string& module) {
  __u32 id = 0;
  while (bpf_btf_get_next_id(id, &id) == 0) {
    int fd = bpf_btf_get_fd_by_id(id);
    if (fd < 0) continue;
    char name[64] = {};
    bpf_btf_info info = {};
    __u32 len = sizeof info;
    info.name = reinterpret_cast<__u64>(name);
    info.name_len = sizeof name;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && module == name) return fd;
    close(fd);
  }
  return -ENOENT;
}

Napi::Value KernelFunctionId(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "kernelFunctionId");
  std::string module = info.Length() > 1 && !IsMissing(info[1]) ? StrArg(info, 1) : "";
  LogCapture quiet;
  return Napi::Number::New(info.Env(), FindKernelFunc(StrArg(info, 0), module));
}

// probeFentry(func, module?): 1 when an fentry program on `func` loads and attaches, 0 when the
// kernel's BTF has no such function, -errno of the failing step otherwise (EPERM where fentry is off).
Napi::Value ProbeFentry(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "probeFentry");
  Napi::Env env = info.Env();
  std::string module = info.Length() > 1 && !IsMissing(info[1]) ? StrArg(info, 1) : "";
  LogCapture quiet;
  int id = FindKernelFunc(StrArg(info, 0), module);
  if (id <= 0) return Napi::Number::New(env, id);
  int obj_fd = 0;
  if (!module.empty()) {
    obj_fd = ModuleBtfFd(module);
    if (obj_fd < 0) return Napi::Number::New(env, obj_fd);
  }
  // r0 = 0; exit
  bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].dst_reg = BPF_REG_0;
  insns[1].code = BPF_JMP | BPF_EXIT;
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = static_cast<__u32>(id));
  if (obj_fd > 0) opts.attach_btf_obj_fd = static_cast<__u32>(obj_fd);
  int prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "bpf2ts_fentry", "GPL", insns, 2, &opts);
  int result = prog < 0 ? -errno : 1;
  if (prog >= 0) {
    int link = bpf_raw_tracepoint_open(nullptr, prog);
    if (link < 0) result = -errno;
    else close(link);
    close(prog);
  }
  if (obj_fd > 0) close(obj_fd);
  return Napi::Number::New(env, result);
}

}  // namespace

void InitFeatures(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelFunctionId", Napi::Function::New(env, KernelFunctionId, "kernelFunctionId"));
  exports.Set("probeFentry", Napi::Function::New(env, ProbeFentry, "probeFentry"));
}

}  // namespace bpf2ts
