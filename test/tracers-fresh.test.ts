// The committed tracer modules are what the current generator makes from the committed sources and
// objects: `bpf2ts check --obj` over bpf/bpf2ts.config.json, exactly as a user's CI would run it.
// (`--obj` because clang's output depends on more than its input — even the checkout's path length
// can reorder forward declarations in BTF — so objects are checked by loading them, not by bytes.)

import test from "ava";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("committed tracer modules are up to date with their sources and objects (bpf2ts check --obj)", (t) => {
  const r = spawnSync(process.execPath, [join(root, "bin/bpf2ts.js"), "check", "--config", join(root, "bpf/bpf2ts.config.json"), "--obj"], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  t.log((r.stdout + r.stderr).trim().split("\n").slice(-3).join("\n"));
  t.is(r.status, 0, `${r.stdout}${r.stderr}`.slice(-4000));
  t.regex(r.stdout + r.stderr, /\d+ programs up to date/);
});
