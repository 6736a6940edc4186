// Links: an attached program. Closing detaches it; pinning keeps it attached beyond this process.

import { addon, type NativeLink } from "./addon.js";
import { closedError, fromNative } from "./errors.js";
import type { ResourceOwner } from "./handles.js";

/**
 * One attachment of a program (or a set of them, for perf events opened on every CPU). `close()` is
 * idempotent and also runs when the owning object closes.
 */
export class Link implements Disposable {
  readonly program: string;
  protected natives: NativeLink[];
  private readonly owner: ResourceOwner | undefined;

  /** @internal Links are made by `Program.attach`. */
  constructor(program: string, natives: NativeLink[], owner?: ResourceOwner) {
    this.program = program;
    this.natives = natives;
    this.owner = owner;
    owner?.own(this);
  }

  get closed(): boolean {
    return this.natives.length === 0;
  }

  protected live(): NativeLink[] {
    if (this.natives.length === 0 || this.owner?.closed) throw closedError(`link of ${this.program}`);
    return this.natives;
  }

  /** The bpf_link fd (-1 for tc, socket filters and XDP with flags, which are not bpf_links). */
  get fd(): number {
    return this.live()[0]!.fd();
  }

  /** Pins the link on a bpf filesystem so it outlives this process (bpf_link kinds only). */
  pin(path: string): void {
    const n = this.live();
    if (n.length !== 1) throw fromNative({ message: `pin link of ${this.program}: a multi-CPU link cannot be pinned as one`, errno: 95, code: "EOPNOTSUPP" });
    try {
      n[0]!.pin(path);
    } catch (e) {
      throw fromNative(e, { program: this.program });
    }
  }

  unpin(): void {
    try {
      for (const n of this.live()) n.unpin();
    } catch (e) {
      throw fromNative(e, { program: this.program });
    }
  }

  /** Detaches the program while keeping the link object (and any pin) around. */
  detach(): void {
    try {
      for (const n of this.live()) n.detach();
    } catch (e) {
      throw fromNative(e, { program: this.program });
    }
  }

  close(): void {
    if (this.natives.length === 0) return;
    const natives = this.natives;
    this.natives = [];
    for (const n of natives) n.close();
    this.owner?.disown(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A BPF iterator link: each `read()` runs the iterator once and returns its whole output. */
export class IterLink extends Link {
  read(): Buffer {
    const [n] = this.live();
    try {
      const out = addon().iterRead(n!);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      throw fromNative(e, { program: this.program });
    }
  }

  readText(): string {
    return this.read().toString("utf8");
  }
}

/** Several links closed together: what `BpfObject.attach()` returns. */
export class LinkSet implements Disposable {
  readonly links: readonly Link[];
  constructor(links: Link[]) {
    this.links = links;
  }
  close(): void {
    for (const l of [...this.links].reverse()) l.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}
