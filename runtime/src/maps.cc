// fd-level map syscalls on caller-provided buffers. These sit on the hot path of every map access, so
// they return 0 or -errno instead of throwing: the TypeScript side turns a miss into `undefined` and
// anything else into a BpfError, without exception machinery on the common path.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "util.h"

namespace bpf2ts {

namespace {

// libbpf 1.x low-level calls return -errno directly.
inline Napi::Number Ret(Napi::Env env, int r) { return Napi::Number::New(env, r); }

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
  Napi::Array res = Napi::Array::New(env, 2);
  res.Set(0u, Ret(env, r));
  res.Set(1u, Napi::Number::New(env, count));
  return res;
}

// mapUpdateBatch(fd, keys, values, count, flags): [ret, count]
Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes keys = BytesArg(info, 1), vals = BytesArg(info, 2);
  uint32_t count = UintArg(info, 3);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = static_cast<__u64>(info[4].As<Napi::Number>().Int64Value()));
  int r = bpf_map_update_batch(IntArg(info, 0), keys.data, vals.data, &count, &opts);
  Napi::Array res = Napi::Array::New(env, 2);
  res.Set(0u, Ret(env, r));
  res.Set(1u, Napi::Number::New(env, count));
  return res;
}

// mapDeleteBatch(fd, keys, count): [ret, count]
Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes keys = BytesArg(info, 1);
  uint32_t count = UintArg(info, 2);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int r = bpf_map_delete_batch(IntArg(info, 0), keys.data, &count, &opts);
  Napi::Array res = Napi::Array::New(env, 2);
  res.Set(0u, Ret(env, r));
  res.Set(1u, Napi::Number::New(env, count));
  return res;
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

// mapCreate(type, name, keySize, valueSize, maxEntries, flags): fd — throws on error.
Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  RequireArgs(info, 6, "mapCreate");
  std::string name = StrArg(info, 1);
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = UintArg(info, 5));
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(UintArg(info, 0)), name.empty() ? nullptr : name.c_str(),
                          UintArg(info, 2), UintArg(info, 3), UintArg(info, 4), &opts);
  if (fd < 0) ThrowErrno(info.Env(), fd, "create map " + name);
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

// ---- Bound map memory: the hot path. A map wrapper asks once for native memory
// [header: fd int32, flags uint32, result int32, 0 | key (8-aligned) | value], exposed to JS as one
// external ArrayBuffer, and for three functions bound to that memory. JS writes the key, value, fd
// and flags straight into the buffer; a lookup is then a call with no arguments and no return value
// (the result, 0 or -errno, lands in the header): no argument unwrapping, no slot table, no handle. Each function holds the buffer as a property, so the memory (freed with
// the buffer) outlives every function that can touch it.

struct MapMemory {
  int32_t fd;
  uint32_t flags;
  int32_t result;
  int32_t unused;
};
constexpr size_t kHeader = sizeof(MapMemory);
static_assert(kHeader == 16, "header is four 32-bit words");

void FreeBlock(napi_env, void* data, void*) { free(data); }

// Per-function data: the block plus where key and value sit in it.
struct Bound {
  uint8_t* block;
  uint8_t* key;
  uint8_t* value;
};

inline const Bound* BoundOf(napi_env env, napi_callback_info cb) {
  void* data = nullptr;
  napi_get_cb_info(env, cb, nullptr, nullptr, nullptr, &data);
  return static_cast<const Bound*>(data);
}

inline MapMemory* Header(const Bound* b) { return reinterpret_cast<MapMemory*>(b->block); }

// Each returns nothing (undefined) and leaves 0 or -errno in the header's result.

// lookup(): into the value area
napi_value BoundLookup(napi_env env, napi_callback_info cb) {
  const Bound* b = BoundOf(env, cb);
  MapMemory* h = Header(b);
  h->result = h->flags ? bpf_map_lookup_elem_flags(h->fd, b->key, b->value, h->flags) : bpf_map_lookup_elem(h->fd, b->key, b->value);
  return nullptr;
}

// update(): from the value area with the header's flags
napi_value BoundUpdate(napi_env env, napi_callback_info cb) {
  const Bound* b = BoundOf(env, cb);
  MapMemory* h = Header(b);
  h->result = bpf_map_update_elem(h->fd, b->key, b->value, h->flags);
  return nullptr;
}

// delete()
napi_value BoundDelete(napi_env env, napi_callback_info cb) {
  const Bound* b = BoundOf(env, cb);
  MapMemory* h = Header(b);
  h->result = bpf_map_delete_elem(h->fd, b->key);
  return nullptr;
}

// mapMemory(keySize, valueSize): [ArrayBuffer, lookup, update, delete]
Napi::Value MapMemoryNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 2, "mapMemory");
  uint32_t ks = UintArg(info, 0), vs = UintArg(info, 1);
  size_t koff = kHeader;
  size_t voff = koff + ((static_cast<size_t>(ks) + 7) & ~static_cast<size_t>(7));
  size_t total = voff + vs;
  // The Bound record rides at the end of the same allocation, so one free releases everything.
  size_t boff = (total + alignof(Bound) - 1) & ~(alignof(Bound) - 1);
  uint8_t* block = static_cast<uint8_t*>(calloc(1, boff + sizeof(Bound)));
  if (block == nullptr) ThrowErrno(env, ENOMEM, "map memory");
  reinterpret_cast<MapMemory*>(block)->fd = -1;
  auto* bound = new (block + boff) Bound{block, ks ? block + koff : nullptr, block + voff};
  napi_value ab;
  if (napi_create_external_arraybuffer(env, block, total, FreeBlock, nullptr, &ab) != napi_ok) {
    free(block);
    ThrowErrno(env, ENOMEM, "map memory");
  }
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, Napi::Value(env, ab));
  const std::pair<const char*, napi_callback> fns[] = {{"lookup", BoundLookup}, {"update", BoundUpdate}, {"delete", BoundDelete}};
  uint32_t i = 1;
  for (const auto& [name, fn] : fns) {
    napi_value f;
    if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, bound, &f) != napi_ok) ThrowErrno(env, ENOMEM, "map memory");
    // Keeps the memory alive while the function is.
    napi_property_descriptor keep = {"memory", nullptr, nullptr, nullptr, nullptr, ab, napi_default, nullptr};
    napi_define_properties(env, f, 1, &keep);
    out.Set(i++, Napi::Value(env, f));
  }
  return out;
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
  exports.Set("mapMemory", Napi::Function::New(env, MapMemoryNew, "mapMemory"));
  exports.Set("mapCreate", Napi::Function::New(env, MapCreate, "mapCreate"));
  exports.Set("objGet", Napi::Function::New(env, ObjGet, "objGet"));
  exports.Set("objPin", Napi::Function::New(env, ObjPin, "objPin"));
}

}  // namespace bpf2ts
