// fd-level map syscalls on caller-provided buffers. These sit on the hot path of every map access, so
// they return 0 or -errno instead of throwing: the TypeScript side turns a miss into `undefined` and
// anything else into a BpfError, without exception machinery on the common path.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "util.h"

namespace bpf2ts {

namespace {

// libbpf 1.x low-level calls return -errno directly.
inline Napi::Number Ret(Napi::Env env, int r) { return Napi::Number::New(env, r); }

// [ret, count]: what the batch calls return (count: the elements the kernel handled).
Napi::Array RetCount(Napi::Env env, int r, uint32_t count) {
  Napi::Array res = Napi::Array::New(env, 2);
  res.Set(0u, Ret(env, r));
  res.Set(1u, Napi::Number::New(env, count));
  return res;
}

// mapLookup(fd, key, value, flags): 0 | -errno
Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Bytes k = BytesArg(info, 1), v = BytesArg(info, 2);
  uint64_t flags = info[3].As<Napi::Number>().Int64Value();
  int r = flags ? bpf_map_lookup_elem_flags(IntArg(info, 0), k.data, v.data, flags)
                : bpf_map_lookup_elem(IntArg(info, 0), k.data, v.data);
  return Ret(info.Env(), r);
}

// mapUpdate(fd, key, value, flags): 0 | -errno
Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  Bytes k = BytesArg(info, 1), v = BytesArg(info, 2);
  int r = bpf_map_update_elem(IntArg(info, 0), k.data, v.data, info[3].As<Napi::Number>().Int64Value());
  return Ret(info.Env(), r);
}

// mapDelete(fd, key): 0 | -errno
Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Bytes k = BytesArg(info, 1);
  return Ret(info.Env(), bpf_map_delete_elem(IntArg(info, 0), k.data));
}

// mapLookupAndDelete(fd, key, value): 0 | -errno (queues/stacks: key null)
Napi::Value MapLookupAndDelete(const Napi::CallbackInfo& info) {
  Bytes k = BytesArg(info, 1), v = BytesArg(info, 2);
  return Ret(info.Env(), bpf_map_lookup_and_delete_elem(IntArg(info, 0), k.data, v.data));
}

// mapGetNextKey(fd, key | null, next): 0 | -errno (-ENOENT at the end)
Napi::Value MapGetNextKey(const Napi::CallbackInfo& info) {
  Bytes k = BytesArg(info, 1), n = BytesArg(info, 2);
  return Ret(info.Env(), bpf_map_get_next_key(IntArg(info, 0), k.data, n.data));
}

// mapLookupBatch(fd, inBatch | null, outBatch, keys, values, count, del): [ret, count]
// `ret` is 0, or -errno; -ENOENT means "this was the last batch" and `count` may still be > 0.
Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes in = BytesArg(info, 1), out = BytesArg(info, 2), keys = BytesArg(info, 3), vals = BytesArg(info, 4);
  uint32_t count = UintArg(info, 5);
  bool del = info[6].ToBoolean();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int r = del ? bpf_map_lookup_and_delete_batch(IntArg(info, 0), in.data, out.data, keys.data, vals.data, &count, &opts)
              : bpf_map_lookup_batch(IntArg(info, 0), in.data, out.data, keys.data, vals.data, &count, &opts);
  return RetCount(env, r, count);
}

// mapUpdateBatch(fd, keys, values, count, flags): [ret, count]
Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes keys = BytesArg(info, 1), vals = BytesArg(info, 2);
  uint32_t count = UintArg(info, 3);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = static_cast<__u64>(info[4].As<Napi::Number>().Int64Value()));
  int r = bpf_map_update_batch(IntArg(info, 0), keys.data, vals.data, &count, &opts);
  return RetCount(env, r, count);
}

// mapDeleteBatch(fd, keys, count): [ret, count]
Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes keys = BytesArg(info, 1);
  uint32_t count = UintArg(info, 2);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int r = bpf_map_delete_batch(IntArg(info, 0), keys.data, &count, &opts);
  return RetCount(env, r, count);
}

Napi::Value MapFreeze(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), bpf_map_freeze(IntArg(info, 0)));
}

// mapInfo(fd): { type, keySize, valueSize, maxEntries, flags, name, id } — throws on error.
Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 1, "mapInfo");
  struct bpf_map_info mi = {};
  __u32 len = sizeof mi;
  if (bpf_obj_get_info_by_fd(IntArg(info, 0), &mi, &len)) ThrowErrno(env, errno, "map info");
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", mi.type);
  const char* tn = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(mi.type));
  o.Set("typeName", tn ? tn : "unknown");
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  o.Set("name", mi.name);
  o.Set("id", mi.id);
  return o;
}

// mapCreate(type, name, keySize, valueSize, maxEntries, flags, innerFd?): fd — throws on error.
// innerFd: the template of a map-in-map's inner maps (BPF_MAP_TYPE_{ARRAY,HASH}_OF_MAPS).
Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  RequireArgs(info, 6, "mapCreate");
  std::string name = StrArg(info, 1);
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = UintArg(info, 5));
  if (info.Length() > 6 && !IsMissing(info[6])) opts.inner_map_fd = UintArg(info, 6);
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(UintArg(info, 0)), name.empty() ? nullptr : name.c_str(),
                          UintArg(info, 2), UintArg(info, 3), UintArg(info, 4), &opts);
  if (fd < 0) ThrowErrno(info.Env(), fd, "create map " + name);
  return Napi::Number::New(info.Env(), fd);
}

// mapFdById(id): a new fd for the map with kernel id `id` — throws on error (ENOENT: no such map).
Napi::Value MapFdById(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "mapFdById");
  uint32_t id = UintArg(info, 0);
  int fd = bpf_map_get_fd_by_id(id);
  if (fd < 0) ThrowErrno(info.Env(), errno, "open map id " + std::to_string(id));
  return Napi::Number::New(info.Env(), fd);
}

// objGet(path): fd — throws on error.
Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "objGet");
  std::string path = StrArg(info, 0);
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), errno, "open pinned object " + path);
  return Napi::Number::New(info.Env(), fd);
}

// objPin(fd, path) — throws on error.
Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "objPin");
  std::string path = StrArg(info, 1);
  if (bpf_obj_pin(IntArg(info, 0), path.c_str())) ThrowErrno(info.Env(), errno, "pin " + path);
  return info.Env().Undefined();
}

// ---- Map memory: the hot path. A map wrapper asks once for native memory
// [header: fd int32, flags uint32, result int32, slot id | key (8-aligned) | value], exposed to JS as one
// external ArrayBuffer and known to the addon by a slot number. JS writes the key, value, fd and
// flags straight into the buffer; a lookup is then slotLookup(slot): one small-integer argument, no
// return value (0 or -errno lands in the header's result), so no typed-array unwrapping and no handle
// per call. The three functions are shared by all maps, which keeps their call sites monomorphic for
// the JIT. When the buffer is collected the slot is freed; slot numbers are validated on every call.

struct MapMemory {
  int32_t fd;
  uint32_t flags;
  int32_t result;
  int32_t slot;  // for the finalizer; outside the words JS sees
};
constexpr size_t kHeader = sizeof(MapMemory);
static_assert(kHeader == 16, "header is four 32-bit words");

struct Slot {
  MapMemory* header = nullptr;  // null for a free slot
  uint8_t* key = nullptr;       // null for keyless maps (queues, stacks)
  uint8_t* value = nullptr;
};
// One table per env (the main thread and each worker), reached as the slot functions' data rather
// than through thread-local storage (a __tls_get_addr call per map access in a shared object). It
// lives until both its env is torn down and the last of its buffers is collected, whichever is later.
struct SlotTable {
  std::vector<Slot> slots;
  std::vector<uint32_t> free_slots;
  size_t live = 0;
  bool env_gone = false;
};

void FreeSlot(napi_env, void* data, void* hint) {
  auto* table = static_cast<SlotTable*>(hint);
  uint32_t id = static_cast<uint32_t>(static_cast<MapMemory*>(data)->slot);
  free(data);
  if (id < table->slots.size()) {
    table->slots[id] = Slot{};
    table->free_slots.push_back(id);
  }
  if (--table->live == 0 && table->env_gone) delete table;
}

void EnvGone(void* arg) {
  auto* table = static_cast<SlotTable*>(arg);
  table->env_gone = true;
  if (table->live == 0) delete table;
}

// mapMemory(keySize, valueSize): [slot, ArrayBuffer]
Napi::Value MapMemoryNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 2, "mapMemory");
  auto* table = static_cast<SlotTable*>(info.Data());
  uint32_t ks = UintArg(info, 0), vs = UintArg(info, 1);
  size_t voff = kHeader + ((static_cast<size_t>(ks) + 7) & ~static_cast<size_t>(7));
  size_t total = voff + vs;
  uint8_t* block = static_cast<uint8_t*>(calloc(1, total));
  if (block == nullptr) ThrowErrno(env, ENOMEM, "map memory");
  uint32_t id;
  if (!table->free_slots.empty()) {
    id = table->free_slots.back();
    table->free_slots.pop_back();
  } else {
    id = static_cast<uint32_t>(table->slots.size());
    table->slots.emplace_back();
  }
  auto* header = reinterpret_cast<MapMemory*>(block);
  header->fd = -1;
  header->slot = static_cast<int32_t>(id);
  table->slots[id] = Slot{header, ks ? block + kHeader : nullptr, block + voff};
  table->live++;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, block, total, FreeSlot, table, &ab) != napi_ok) {
    FreeSlot(env, block, table);
    ThrowErrno(env, ENOMEM, "map memory");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, id));
  out.Set(1u, Napi::Value(env, ab));
  return out;
}

// The slot named by the one argument, or null (a bad slot: the caller's result stays untouched).
inline const Slot* SlotArg(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value arg;
  void* data;
  napi_get_cb_info(env, cb, &argc, &arg, nullptr, &data);
  const std::vector<Slot>& slots = static_cast<SlotTable*>(data)->slots;
  uint32_t id;
  if (argc < 1 || napi_get_value_uint32(env, arg, &id) != napi_ok || id >= slots.size() || slots[id].header == nullptr) return nullptr;
  return &slots[id];
}

// The map element commands as bpf(2) itself, as libbpf's bpf_map_*_elem make them (the attr up to
// `flags`, zeroed): called directly, the per-access path skips libbpf's wrapper and its code page
// (without PCID every syscall flushes the TLB, so each page touched afterwards costs a refill).
int MapElem(int cmd, const MapMemory* h, const Slot* s) {
  constexpr size_t kAttrSize = offsetof(union bpf_attr, flags) + sizeof(bpf_attr::flags);
  union bpf_attr attr;
  memset(&attr, 0, kAttrSize);
  attr.map_fd = static_cast<__u32>(h->fd);
  attr.key = reinterpret_cast<uintptr_t>(s->key);
  if (cmd != BPF_MAP_DELETE_ELEM) {  // delete takes neither (the kernel wants them zero)
    attr.value = reinterpret_cast<uintptr_t>(s->value);
    attr.flags = h->flags;
  }
  return syscall(__NR_bpf, cmd, &attr, kAttrSize) < 0 ? -errno : 0;
}

// slotLookup(slot): result = lookup into the value area (with the header's flags, e.g. BPF_F_LOCK)
napi_value SlotLookup(napi_env env, napi_callback_info cb) {
  if (const Slot* s = SlotArg(env, cb)) s->header->result = MapElem(BPF_MAP_LOOKUP_ELEM, s->header, s);
  return nullptr;
}

// slotUpdate(slot): result = update from the value area with the header's flags
napi_value SlotUpdate(napi_env env, napi_callback_info cb) {
  if (const Slot* s = SlotArg(env, cb)) s->header->result = MapElem(BPF_MAP_UPDATE_ELEM, s->header, s);
  return nullptr;
}

// slotDelete(slot): result = delete
napi_value SlotDelete(napi_env env, napi_callback_info cb) {
  if (const Slot* s = SlotArg(env, cb)) s->header->result = MapElem(BPF_MAP_DELETE_ELEM, s->header, s);
  return nullptr;
}

// ---- Mapped array maps (BPF_F_MMAPABLE): the values themselves as an ArrayBuffer over a shared
// mapping of the map fd, so get/set are plain memory accesses. A mapping lives until mapUnmap (the
// map's owner closed; the buffer is detached first) or until its buffer is collected, whichever is
// first; the table says which mappings are still live so neither unmaps twice.
struct Mappings {
  std::mutex lock;
  std::unordered_map<void*, size_t> live;  // address → length
};
Mappings& mappings() {
  static Mappings* m = new Mappings();  // never destroyed: finalizers may run during exit
  return *m;
}

bool Unmap(void* p) {
  Mappings& m = mappings();
  std::lock_guard<std::mutex> g(m.lock);
  auto it = m.live.find(p);
  if (it == m.live.end()) return false;
  munmap(p, it->second);
  m.live.erase(it);
  return true;
}

void UnmapCollected(napi_env, void* data, void*) { Unmap(data); }

// mapMmap(fd, bytes, writable): ArrayBuffer of `bytes` over the map's values — throws on error.
Napi::Value MapMmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 3, "mapMmap");
  size_t bytes = info[1].As<Napi::Number>().Int64Value();
  bool writable = info[2].ToBoolean();
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t len = (bytes + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, IntArg(info, 0), 0);
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap map");
  {
    Mappings& m = mappings();
    std::lock_guard<std::mutex> g(m.lock);
    m.live[p] = len;
  }
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, bytes, UnmapCollected, nullptr, &ab) != napi_ok) {
    Unmap(p);
    ThrowErrno(env, ENOMEM, "mmap map");
  }
  return Napi::Value(env, ab);
}

// mapUnmap(buffer): detaches the buffer and unmaps its memory now (idempotent).
Napi::Value MapUnmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 1, "mapUnmap");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return env.Undefined();
  void* p = ab.Data();
  ab.Detach();
  Unmap(p);
  return env.Undefined();
}

void SetRaw(napi_env env, napi_value exports, const char* name, napi_callback fn, void* data) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, data, &f);
  napi_set_named_property(env, exports, name, f);
}

}  // namespace

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup, "mapLookup"));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate, "mapUpdate"));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete, "mapDelete"));
  exports.Set("mapLookupAndDelete", Napi::Function::New(env, MapLookupAndDelete, "mapLookupAndDelete"));
  exports.Set("mapGetNextKey", Napi::Function::New(env, MapGetNextKey, "mapGetNextKey"));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch, "mapLookupBatch"));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch, "mapUpdateBatch"));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch, "mapDeleteBatch"));
  exports.Set("mapFreeze", Napi::Function::New(env, MapFreeze, "mapFreeze"));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo, "mapInfo"));
  auto* table = new SlotTable();
  napi_add_env_cleanup_hook(env, EnvGone, table);
  exports.Set("mapMemory", Napi::Function::New(env, MapMemoryNew, "mapMemory", table));
  SetRaw(env, exports, "slotLookup", SlotLookup, table);
  SetRaw(env, exports, "slotUpdate", SlotUpdate, table);
  SetRaw(env, exports, "slotDelete", SlotDelete, table);
  exports.Set("mapMmap", Napi::Function::New(env, MapMmap, "mapMmap"));
  exports.Set("mapUnmap", Napi::Function::New(env, MapUnmap, "mapUnmap"));
  exports.Set("mapCreate", Napi::Function::New(env, MapCreate, "mapCreate"));
  exports.Set("mapFdById", Napi::Function::New(env, MapFdById, "mapFdById"));
  exports.Set("objGet", Napi::Function::New(env, ObjGet, "objGet"));
  exports.Set("objPin", Napi::Function::New(env, ObjPin, "objPin"));
}

}  // namespace bpf2ts
