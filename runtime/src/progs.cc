// BPF_PROG_TEST_RUN: run a loaded program on given input without attaching it.
#include <bpf/bpf.h>

#include <vector>

#include "util.h"

namespace bpf2ts {

namespace {

// testRun(progFd, dataIn | null, dataOutSize, ctxIn | null, ctxOutSize, repeat, flags, cpu):
// { ret, retval, duration, dataOut?, ctxOut? } — `ret` is 0 or -errno.
Napi::Value TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 8, "testRun");
  int fd = IntArg(info, 0);
  Bytes data_in = BytesArg(info, 1);
  uint32_t data_out_size = UintArg(info, 2);
  Bytes ctx_in = BytesArg(info, 3);
  uint32_t ctx_out_size = UintArg(info, 4);
  std::vector<uint8_t> data_out(data_out_size), ctx_out(ctx_out_size);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = data_in.data;
  opts.data_size_in = static_cast<__u32>(data_in.size);
  if (data_out_size) {
    opts.data_out = data_out.data();
    opts.data_size_out = data_out_size;
  }
  opts.ctx_in = ctx_in.data;
  opts.ctx_size_in = static_cast<__u32>(ctx_in.size);
  if (ctx_out_size) {
    opts.ctx_out = ctx_out.data();
    opts.ctx_size_out = ctx_out_size;
  }
  opts.repeat = UintArg(info, 5);
  opts.flags = UintArg(info, 6);
  opts.cpu = UintArg(info, 7);
  int r = bpf_prog_test_run_opts(fd, &opts);
  Napi::Object o = Napi::Object::New(env);
  o.Set("ret", r);
  o.Set("retval", opts.retval);
  o.Set("duration", opts.duration);
  if (r == 0 && data_out_size)
    o.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, data_out.data(), std::min(opts.data_size_out, data_out_size)));
  if (r == 0 && ctx_out_size)
    o.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, ctx_out.data(), std::min(opts.ctx_size_out, ctx_out_size)));
  return o;
}

}  // namespace

void InitProgs(Napi::Env env, Napi::Object exports) {
  exports.Set("testRun", Napi::Function::New(env, TestRun, "testRun"));
}

}  // namespace bpf2ts
