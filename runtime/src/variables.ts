// Global variables: typed reads and writes straight through the mmapped .bss/.data map, so BPF
// programs and JS see each other's writes live. .rodata is frozen at load; it is readable only.

import { addon } from "./addon.js";
import { type Codec, withContext } from "./codec.js";
import { BpfError, closedError, errno, errnoError } from "./errors.js";
import type { MapHandle } from "./handles.js";

/** One global variable of a loaded object. */
export class Variable<T> {
  readonly name: string;
  /** `.bss`, `.data`, `.rodata`, or a custom `.data.*` section. */
  readonly section: string;
  readonly offset: number;
  readonly codec: Codec<T>;
  readonly readonly: boolean;
  private readonly map: MapHandle;
  /** The live mapping (writable sections) or a copy (.rodata); undefined → syscalls on the map. */
  private readonly view: DataView | undefined;

  /** @internal Variables are made by the loader. */
  constructor(map: MapHandle, name: string, section: string, offset: number, codec: Codec<T>, bytes: ArrayBuffer | undefined, readonly: boolean) {
    if (offset < 0 || offset + codec.size > map.valueSize) {
      throw new BpfError(`variable ${name}: offset ${offset} + size ${codec.size} is outside section ${section} (${map.valueSize} bytes)`, {
        errno: errno.EINVAL,
        code: "EINVAL",
        map: map.name,
      });
    }
    this.map = map;
    this.name = name;
    this.section = section;
    this.offset = offset;
    this.codec = codec;
    this.readonly = readonly;
    this.view = bytes ? new DataView(bytes) : undefined;
  }

  private check(): void {
    if (this.map.object.closed) throw closedError(`variable ${this.name}`);
  }

  get(): T {
    this.check();
    if (this.view) return this.codec.decode(this.view, this.offset);
    const v = this.readSection();
    return this.codec.decode(v, this.offset);
  }

  set(value: T): void {
    this.check();
    if (this.readonly) {
      throw new BpfError(`variable ${this.name}: ${this.section} is read-only after load`, { errno: errno.EPERM, code: "EPERM", map: this.map.name });
    }
    if (this.view) {
      // Encoded aside first: a value rejected halfway (a bad field) must not leave half a write
      // in the live section the BPF program reads.
      const bytes = this.encode(value);
      new Uint8Array(this.view.buffer, this.view.byteOffset + this.offset, bytes.length).set(bytes);
      return;
    }
    // Kernels without mmapable array maps: read-modify-write the section's single value.
    const bytes = this.encode(value);
    const v = this.readSection();
    new Uint8Array(v.buffer, v.byteOffset + this.offset, bytes.length).set(bytes);
    const key = new Uint8Array(4);
    const r = addon().mapUpdate(this.map.fd, key, new Uint8Array(v.buffer), 0);
    if (r !== 0) throw errnoError(`variable ${this.name}: write ${this.section}`, r, { map: this.map.name });
  }

  /** The value's bytes; a value the codec rejects throws its RangeError/TypeError naming this variable. */
  private encode(value: T): Uint8Array {
    const bytes = new Uint8Array(this.codec.size);
    try {
      this.codec.encode(value, new DataView(bytes.buffer), 0);
    } catch (e) {
      throw withContext(e, `variable ${this.name}`);
    }
    return bytes;
  }

  private readSection(): DataView {
    const key = new Uint8Array(4);
    const value = new Uint8Array(this.map.valueSize);
    const r = addon().mapLookup(this.map.fd, key, value, 0);
    if (r !== 0) throw errnoError(`variable ${this.name}: read ${this.section}`, r, { map: this.map.name });
    return new DataView(value.buffer);
  }
}
