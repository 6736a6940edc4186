// Attaching programs: one function per attach kind, each returning a NativeLink. libbpf's bpf_link
// covers most kinds; tc (netlink filters in libbpf 1.1), legacy XDP with flags and socket filters are
// not bpf_links, so NativeLink also knows how to undo those.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/perf_event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "object.h"
#include "util.h"

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif
#ifndef SO_DETACH_BPF
#define SO_DETACH_BPF 27
#endif

namespace bpf2ts {

namespace {

class NativeLink : public Napi::ObjectWrap<NativeLink> {
 public:
  enum class Kind { kNone, kLibbpf, kTc, kXdp, kSocket };

  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "NativeLink",
                                   {
                                       InstanceMethod("fd", &NativeLink::Fd),
                                       InstanceMethod("pin", &NativeLink::Pin),
                                       InstanceMethod("unpin", &NativeLink::Unpin),
                                       InstanceMethod("detach", &NativeLink::Detach),
                                       InstanceMethod("close", &NativeLink::Close),
                                   });
    Data(env).link_ctor = Napi::Persistent(f);
    exports.Set("NativeLink", f);
  }

  explicit NativeLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLink>(info) {}
  ~NativeLink() override { Release(); }

  static Napi::Object New(Napi::Env env, NativeLink** out) {
    Napi::Object o = Data(env).link_ctor.New({});
    *out = Unwrap(o);
    return o;
  }

  static NativeLink* From(const Napi::Value& v) {
    Napi::FunctionReference& ctor = Data(v.Env()).link_ctor;
    if (!v.IsObject() || ctor.IsEmpty() || !v.As<Napi::Object>().InstanceOf(ctor.Value()))
      throw Napi::TypeError::New(v.Env(), "expected a NativeLink");
    return Unwrap(v.As<Napi::Object>());
  }

  Kind kind = Kind::kNone;
  bpf_link* link = nullptr;
  bpf_tc_hook tc_hook = {};
  bpf_tc_opts tc_opts = {};
  int ifindex = 0;
  uint32_t xdp_flags = 0;
  int xdp_prog_fd = -1;  // our own dup: the object may be gone by the time the link is released
  int sock_fd = -1;
  ino_t sock_ino = 0;
  dev_t sock_dev = 0;

  int LinkFd(Napi::Env env) {
    if (kind == Kind::kNone) ThrowErrno(env, EBADF, "link is closed");
    return kind == Kind::kLibbpf ? bpf_link__fd(link) : -1;
  }

 private:
  void Release() {
    switch (kind) {
      case Kind::kLibbpf:
        bpf_link__destroy(link);
        link = nullptr;
        break;
      case Kind::kTc: {
        bpf_tc_opts o = {};
        o.sz = sizeof o;
        o.handle = tc_opts.handle;
        o.priority = tc_opts.priority;
        // Only our filter goes. The clsact qdisc stays: libbpf 1.1's hook destroy for one direction
        // flushes every filter there, other users' included, and an empty clsact costs nothing.
        bpf_tc_detach(&tc_hook, &o);
        break;
      }
      case Kind::kXdp: {
        // XDP_FLAGS_REPLACE + old_prog_fd: detach only if our program is still the one attached.
        LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = xdp_prog_fd);
        bpf_xdp_detach(ifindex, xdp_flags | XDP_FLAGS_REPLACE, &o);
        close(xdp_prog_fd);
        xdp_prog_fd = -1;
        break;
      }
      case Kind::kSocket: {
        // Only if the fd is still the socket we attached to (it may have been closed and reused).
        struct stat st;
        if (fstat(sock_fd, &st) == 0 && st.st_ino == sock_ino && st.st_dev == sock_dev) {
          int dummy = 0;
          setsockopt(sock_fd, SOL_SOCKET, SO_DETACH_BPF, &dummy, sizeof dummy);
        }
        break;
      }
      case Kind::kNone:
        break;
    }
    kind = Kind::kNone;
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LinkFd(info.Env())); }

  Napi::Value Pin(const Napi::CallbackInfo& info) {
    RequireArgs(info, 1, "pin");
    std::string path = StrArg(info, 0);
    LinkFd(info.Env());
    if (kind != Kind::kLibbpf) ThrowErrno(info.Env(), EOPNOTSUPP, "pin link " + path + ": not a bpf_link");
    int err = bpf_link__pin(link, path.c_str());
    if (err) ThrowErrno(info.Env(), err, "pin link " + path);
    return info.Env().Undefined();
  }

  Napi::Value Unpin(const Napi::CallbackInfo& info) {
    LinkFd(info.Env());
    if (kind != Kind::kLibbpf) ThrowErrno(info.Env(), EOPNOTSUPP, "unpin link: not a bpf_link");
    int err = bpf_link__unpin(link);
    if (err) ThrowErrno(info.Env(), err, "unpin link");
    return info.Env().Undefined();
  }

  // Detaches the program but keeps the link object (and its pin) alive; a no-op for kinds that
  // have no such notion except through close().
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    LinkFd(info.Env());
    if (kind != Kind::kLibbpf) ThrowErrno(info.Env(), EOPNOTSUPP, "detach: not a bpf_link (use close)");
    int err = bpf_link__detach(link);
    if (err) ThrowErrno(info.Env(), err, "detach link");
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }
};

// The libbpf link or a JS errno error carrying libbpf's explanation.
Napi::Value Wrap(Napi::Env env, bpf_link* link, const LogCapture& log, const std::string& what) {
  if (link == nullptr) {
    int err = errno;
    Napi::Error e = ErrnoError(env, err, what);
    e.Set("log", Napi::String::New(env, log.text()));
    throw e;
  }
  NativeLink* l;
  Napi::Object o = NativeLink::New(env, &l);
  l->kind = NativeLink::Kind::kLibbpf;
  l->link = link;
  return o;
}

// A BPF cookie (a BigInt the TypeScript side has range-checked). N-API wants somewhere to say
// whether the conversion lost bits, even when the caller does not care.
uint64_t CookieArg(const Napi::CallbackInfo& info, size_t i) {
  bool lossless = true;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

struct Target {
  NativeObject* obj;
  bpf_program* prog;
  std::string name;
};

Target ProgArg(const Napi::CallbackInfo& info, const char* fn) {
  RequireArgs(info, 2, fn);
  NativeObject* o = NativeObject::From(info[0]);
  std::string name = StrArg(info, 1);
  bpf_program* p = o->Program(info.Env(), name);
  if (bpf_program__fd(p) < 0) ThrowErrno(info.Env(), EBADF, std::string(fn) + " " + name + ": program not loaded");
  return {o, p, name};
}

// attachAuto(obj, prog): from the SEC() name.
Napi::Value AttachAuto(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attach");
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach(t.prog), log, "attach " + t.name);
}

// attachTracepoint(obj, prog, category, name)
Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachTracepoint");
  std::string cat = StrArg(info, 2), tp = StrArg(info, 3);
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_tracepoint(t.prog, cat.c_str(), tp.c_str()), log,
              "attach " + t.name + " to tracepoint " + cat + "/" + tp);
}

// attachRawTracepoint(obj, prog, name)
Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachRawTracepoint");
  std::string tp = StrArg(info, 2);
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_raw_tracepoint(t.prog, tp.c_str()), log,
              "attach " + t.name + " to raw tracepoint " + tp);
}

// attachTrace(obj, prog): tp_btf, fentry, fexit, fmod_ret (target chosen at load from SEC()).
Napi::Value AttachTrace(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachTrace");
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_trace(t.prog), log, "attach " + t.name);
}

Napi::Value AttachLsm(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachLsm");
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_lsm(t.prog), log, "attach " + t.name);
}

// attachKprobe(obj, prog, retprobe, func, offset)
Napi::Value AttachKprobe(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachKprobe");
  bool ret = info[2].ToBoolean();
  std::string func = StrArg(info, 3);
  LIBBPF_OPTS(bpf_kprobe_opts, opts, .offset = static_cast<size_t>(info[4].As<Napi::Number>().Int64Value()),
              .retprobe = ret);
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_kprobe_opts(t.prog, func.c_str(), &opts), log,
              "attach " + t.name + " to " + (ret ? "kretprobe " : "kprobe ") + func);
}

// attachUprobe(obj, prog, retprobe, pid, path, offset, refCtrOffset, cookie)
Napi::Value AttachUprobe(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachUprobe");
  bool ret = info[2].ToBoolean();
  int pid = IntArg(info, 3);
  std::string path = StrArg(info, 4);
  size_t offset = static_cast<size_t>(info[5].As<Napi::Number>().Int64Value());
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
  if (info.Length() > 6 && !IsMissing(info[6])) opts.ref_ctr_offset = info[6].As<Napi::Number>().Int64Value();
  if (info.Length() > 7 && !IsMissing(info[7])) opts.bpf_cookie = CookieArg(info, 7);
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_uprobe_opts(t.prog, pid, path.c_str(), offset, &opts), log,
              "attach " + t.name + " to " + (ret ? "uretprobe " : "uprobe ") + path + "+" + std::to_string(offset));
}

// attachUsdt(obj, prog, pid, path, provider, name, cookie?): libbpf reads the binary's
// .note.stapsdt, fills the program's USDT spec maps (usdt.bpf.h) and places a uprobe per call site.
Napi::Value AttachUsdt(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachUsdt");
  int pid = IntArg(info, 2);
  std::string path = StrArg(info, 3);
  std::string provider = StrArg(info, 4);
  std::string name = StrArg(info, 5);
  LIBBPF_OPTS(bpf_usdt_opts, opts);
  if (info.Length() > 6 && !IsMissing(info[6])) opts.usdt_cookie = CookieArg(info, 6);
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_usdt(t.prog, pid, path.c_str(), provider.c_str(), name.c_str(), &opts), log,
              "attach " + t.name + " to USDT " + path + ":" + provider + ":" + name);
}

// perfEventOpen(type, config, cpu, pid, periodOrFreq, useFreq): fd
Napi::Value PerfEventOpen(const Napi::CallbackInfo& info) {
  RequireArgs(info, 6, "perfEventOpen");
  struct perf_event_attr attr = {};
  attr.size = sizeof attr;
  attr.type = UintArg(info, 0);
  attr.config = static_cast<__u64>(info[1].As<Napi::Number>().Int64Value());
  int cpu = IntArg(info, 2);
  int pid = IntArg(info, 3);
  uint64_t n = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
  attr.freq = info[5].ToBoolean() ? 1 : 0;
  if (attr.freq) attr.sample_freq = n;
  else attr.sample_period = n;
  int fd = static_cast<int>(syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
  if (fd < 0) ThrowErrno(info.Env(), errno, "perf_event_open on cpu " + std::to_string(cpu));
  return Napi::Number::New(info.Env(), fd);
}

// attachPerfEvent(obj, prog, pfd): the link owns pfd from here on (closed with it, or now on error).
Napi::Value AttachPerfEvent(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachPerfEvent");
  int pfd = IntArg(info, 2);
  LogCapture log;
  bpf_link* l = bpf_program__attach_perf_event(t.prog, pfd);
  if (l == nullptr) {
    int err = errno;
    close(pfd);
    errno = err;
  }
  return Wrap(info.Env(), l, log, "attach " + t.name + " to perf event");
}

// attachXdp(obj, prog, ifindex, flags): a bpf_link without flags; with flags (driver/skb mode,
// replace) the netlink attachment, undone by close.
Napi::Value AttachXdp(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachXdp");
  int ifindex = IntArg(info, 2);
  uint32_t flags = UintArg(info, 3);
  LogCapture log;
  if (flags == 0)
    return Wrap(info.Env(), bpf_program__attach_xdp(t.prog, ifindex), log,
                "attach " + t.name + " to XDP of ifindex " + std::to_string(ifindex));
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  int err = bpf_xdp_attach(ifindex, bpf_program__fd(t.prog), flags, &opts);
  if (err) ThrowErrno(info.Env(), err, "attach " + t.name + " to XDP of ifindex " + std::to_string(ifindex));
  NativeLink* l;
  Napi::Object o = NativeLink::New(info.Env(), &l);
  l->kind = NativeLink::Kind::kXdp;
  l->ifindex = ifindex;
  l->xdp_flags = flags & ~static_cast<uint32_t>(XDP_FLAGS_REPLACE | XDP_FLAGS_UPDATE_IF_NOEXIST);
  l->xdp_prog_fd = fcntl(bpf_program__fd(t.prog), F_DUPFD_CLOEXEC, 0);
  return o;
}

// attachTc(obj, prog, ifindex, ingress, priority, handle)
Napi::Value AttachTc(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachTc");
  Napi::Env env = info.Env();
  int ifindex = IntArg(info, 2);
  bool ingress = info[3].ToBoolean();
  std::string what = "attach " + t.name + " to tc " + (ingress ? "ingress" : "egress") + " of ifindex " + std::to_string(ifindex);
  NativeLink* l;
  Napi::Object o = NativeLink::New(env, &l);
  l->tc_hook.sz = sizeof l->tc_hook;
  l->tc_hook.ifindex = ifindex;
  l->tc_hook.attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  LogCapture log;
  int err = bpf_tc_hook_create(&l->tc_hook);
  if (err && err != -EEXIST) ThrowErrno(env, err, what + " (create clsact qdisc)");
  l->tc_opts.sz = sizeof l->tc_opts;
  l->tc_opts.prog_fd = bpf_program__fd(t.prog);
  l->tc_opts.priority = info.Length() > 4 && !IsMissing(info[4]) ? UintArg(info, 4) : 0;
  l->tc_opts.handle = info.Length() > 5 && !IsMissing(info[5]) ? UintArg(info, 5) : 0;
  err = bpf_tc_attach(&l->tc_hook, &l->tc_opts);
  if (err) ThrowErrno(env, err, what);
  l->tc_opts.prog_fd = 0;
  l->tc_opts.prog_id = 0;
  l->tc_opts.flags = 0;
  l->kind = NativeLink::Kind::kTc;
  return o;
}

// attachCgroup(obj, prog, cgroupPath)
Napi::Value AttachCgroup(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachCgroup");
  std::string path = StrArg(info, 2);
  int cg = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cg < 0) ThrowErrno(info.Env(), errno, "attach " + t.name + ": open cgroup " + path);
  LogCapture log;
  bpf_link* l = bpf_program__attach_cgroup(t.prog, cg);
  int err = errno;
  close(cg);  // the link holds its own reference to the cgroup
  errno = err;
  return Wrap(info.Env(), l, log, "attach " + t.name + " to cgroup " + path);
}

// openPacketSocket(ifindex): fd of a raw AF_PACKET socket bound to one interface, every protocol,
// for a `socket` program to see each frame with its link-layer header (libbpf-bootstrap's sockfilter).
Napi::Value OpenPacketSocket(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "openPacketSocket");
  int ifindex = IntArg(info, 0);
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) ThrowErrno(info.Env(), errno, "open a packet socket");
  struct sockaddr_ll sll = {};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll)) {
    int err = errno;
    close(fd);
    ThrowErrno(info.Env(), err, "bind a packet socket to ifindex " + std::to_string(ifindex));
  }
  return Napi::Number::New(info.Env(), fd);
}

// attachSocket(obj, prog, socketFd): SO_ATTACH_BPF; close() detaches with SO_DETACH_BPF.
Napi::Value AttachSocket(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachSocket");
  int sock = IntArg(info, 2);
  int pfd = bpf_program__fd(t.prog);
  if (setsockopt(sock, SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof pfd))
    ThrowErrno(info.Env(), errno, "attach " + t.name + " to socket fd " + std::to_string(sock));
  NativeLink* l;
  Napi::Object o = NativeLink::New(info.Env(), &l);
  struct stat st;
  if (fstat(sock, &st) == 0) {
    l->sock_ino = st.st_ino;
    l->sock_dev = st.st_dev;
  }
  l->kind = NativeLink::Kind::kSocket;
  l->sock_fd = sock;
  return o;
}

// attachIter(obj, prog): an iterator link; read it with iterRead.
Napi::Value AttachIter(const Napi::CallbackInfo& info) {
  Target t = ProgArg(info, "attachIter");
  LogCapture log;
  return Wrap(info.Env(), bpf_program__attach_iter(t.prog, nullptr), log, "attach iterator " + t.name);
}

// iterRead(link): runs the iterator once and returns everything it wrote.
Napi::Value IterRead(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "iterRead");
  NativeLink* l = NativeLink::From(info[0]);
  int lfd = l->LinkFd(info.Env());
  int fd = bpf_iter_create(lfd);
  if (fd < 0) ThrowErrno(info.Env(), fd, "create iterator");
  std::vector<uint8_t> out;
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      ThrowErrno(info.Env(), err, "read iterator");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  close(fd);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

}  // namespace

void InitLinks(Napi::Env env, Napi::Object exports) {
  NativeLink::Init(env, exports);
  exports.Set("attachAuto", Napi::Function::New(env, AttachAuto, "attachAuto"));
  exports.Set("attachTracepoint", Napi::Function::New(env, AttachTracepoint, "attachTracepoint"));
  exports.Set("attachRawTracepoint", Napi::Function::New(env, AttachRawTracepoint, "attachRawTracepoint"));
  exports.Set("attachTrace", Napi::Function::New(env, AttachTrace, "attachTrace"));
  exports.Set("attachLsm", Napi::Function::New(env, AttachLsm, "attachLsm"));
  exports.Set("attachKprobe", Napi::Function::New(env, AttachKprobe, "attachKprobe"));
  exports.Set("attachUprobe", Napi::Function::New(env, AttachUprobe, "attachUprobe"));
  exports.Set("attachUsdt", Napi::Function::New(env, AttachUsdt, "attachUsdt"));
  exports.Set("perfEventOpen", Napi::Function::New(env, PerfEventOpen, "perfEventOpen"));
  exports.Set("attachPerfEvent", Napi::Function::New(env, AttachPerfEvent, "attachPerfEvent"));
  exports.Set("attachXdp", Napi::Function::New(env, AttachXdp, "attachXdp"));
  exports.Set("attachTc", Napi::Function::New(env, AttachTc, "attachTc"));
  exports.Set("attachCgroup", Napi::Function::New(env, AttachCgroup, "attachCgroup"));
  exports.Set("attachSocket", Napi::Function::New(env, AttachSocket, "attachSocket"));
  exports.Set("openPacketSocket", Napi::Function::New(env, OpenPacketSocket, "openPacketSocket"));
  exports.Set("attachIter", Napi::Function::New(env, AttachIter, "attachIter"));
  exports.Set("iterRead", Napi::Function::New(env, IterRead, "iterRead"));
}

}  // namespace bpf2ts
