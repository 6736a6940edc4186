// `generate --package` writes a Containerfile and a Kubernetes DaemonSet for a tracer: capabilities
// derived from the object's program and map types (plus the tracer's deploy.json), host mounts by
// program kind, Prometheus annotations. The manifest is checked against Kubernetes' own TypeScript
// definitions (kubernetes-types) under tsc --strict, round-trips through YAML, and the Containerfile
// copies files the built package has and runs the bin package.json names.

import test from "ava";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import { capabilitiesFor, type ProgramKind } from "@bpf2ts/runtime/contract";
import { buildModel } from "../generator/model/model.js";
import { daemonSet, readDeployConfig } from "../generator/workflow/deploy.js";
import { MANIFEST } from "../generator/workflow/package-dir.js";
import { compileC } from "./helpers/compile-c.js";
import { tempDir } from "./helpers/temp-dir.js";
import { repoRoot } from "./tracers-support.js";

const execFileP = promisify(execFile);
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
const bpf2ts = join(repoRoot, "bin/bpf2ts.js");

function generatePackage(tracer: string, dir: string): void {
  execFileSync(process.execPath, [bpf2ts, "generate", tracer, `${tracer}/${tracer}.bpf.c`, "--target", "x64", "--package", dir, "--", "-I", "."], { cwd: join(repoRoot, "bpf"), stdio: "pipe" });
}

/** The body of a generated daemonset.yaml (after its header comment), parsed. */
function readDaemonSet(path: string): { text: string; object: DaemonSet } {
  const text = readFileSync(path, "utf8");
  return { text, object: parse(text) as DaemonSet };
}

/** Type-checks `const ds: DaemonSet = <object>` with tsc --strict; returns the diagnostics. */
async function typeCheck(dir: string, objects: Record<string, unknown>): Promise<string> {
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  if (!existsSync(join(dir, "node_modules/kubernetes-types"))) symlinkSync(join(repoRoot, "node_modules/kubernetes-types"), join(dir, "node_modules/kubernetes-types"));
  for (const [name, o] of Object.entries(objects)) {
    writeFileSync(join(dir, `${name}.ts`), `import type { DaemonSet } from "kubernetes-types/apps/v1.js";\nexport const ds: DaemonSet = ${JSON.stringify(o, null, 2)};\n`);
  }
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", types: [] }, files: Object.keys(objects).map((n) => `${n}.ts`) }));
  return execFileP(process.execPath, [tsc, "-p", dir]).then(() => "", (e: { stdout: string }) => e.stdout);
}

test("capabilities come from the kernel's program- and map-type checks: CAP_NET_ADMIN only for network hooks", (t) => {
  const progs = (...ps: Array<[ProgramKind, string]>) => ps.map(([kind, progType]) => ({ kind, progType }));
  t.deepEqual(capabilitiesFor(progs(["tracepoint", "tracepoint"], ["kprobe", "kprobe"], ["perf_event", "perf_event"], ["tp_btf", "tracing"], ["raw_tp", "raw_tracepoint"]), ["hash", "ringbuf", "stack_trace"]), [], "tracing needs only the base (CAP_BPF, CAP_PERFMON)");
  t.deepEqual(capabilitiesFor(progs(["uprobe", "kprobe"])).map((c) => c.capability), ["CAP_SYS_ADMIN"], "the uprobe PMU wants CAP_SYS_ADMIN");
  const xdp = capabilitiesFor(progs(["xdp", "xdp"], ["tc", "sched_cls"]));
  t.is(xdp.length, 1);
  t.is(xdp[0]!.capability, "CAP_NET_ADMIN");
  t.regex(xdp[0]!.reason, /xdp programs.*sched_cls programs/);
  t.is(capabilitiesFor(progs(["socket", "socket_filter"]), ["sockmap"])[0]?.capability, "CAP_NET_ADMIN", "a sockmap needs CAP_NET_ADMIN");
  t.deepEqual(capabilitiesFor(progs(["socket", "socket_filter"], ["other", "sk_reuseport"])), [], "socket filters need CAP_BPF only");
});

test("a network program's DaemonSet gets CAP_NET_ADMIN, the host network, bpffs for pinned maps and cgroupfs; it type-checks", async (t) => {
  const { elf, btf } = await compileC(`
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64); __uint(pinning, LIBBPF_PIN_BY_NAME); } pinned SEC(".maps");
SEC("xdp") int on_xdp(void *ctx) { return 2; }
SEC("cgroup_skb/ingress") int on_skb(void *ctx) { return 1; }
char LICENSE[] SEC("license") = "GPL";
`);
  const model = buildModel(elf, btf, { file: "net.o" });
  const ds = daemonSet({ name: "@acme/netwatch", version: "1.2.3", stem: "netwatch", model, bin: "dist/cli.js", config: { metricsPort: false, capabilities: { CAP_SYS_ADMIN: "test only" } } });
  const pod = ds.spec!.template.spec!;
  const c = pod.containers[0]!;
  t.deepEqual(c.securityContext!.capabilities, { drop: ["ALL"], add: ["BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"] });
  t.true(pod.hostNetwork, "XDP attaches to the host's interfaces");
  t.true(pod.hostPID);
  t.deepEqual(pod.volumes!.map((v) => v.hostPath!.path), ["/sys/kernel/btf", "/sys/fs/bpf", "/sys/fs/cgroup"], "no tracefs without tracepoints");
  t.false(c.volumeMounts!.find((m) => m.name === "bpffs")!.readOnly, "bpffs writable for pins");
  t.is(c.image, "acme-netwatch:1.2.3");
  t.is(ds.metadata!.name, "acme-netwatch");
  t.deepEqual(c.args, [], "metricsPort false: no --metrics");
  t.is(c.ports, undefined);
  t.false(Object.keys(ds.spec!.template.metadata!.annotations!).some((k) => k.startsWith("prometheus.io/")));
  t.regex(ds.spec!.template.metadata!.annotations!["bpf2ts/capability.net_admin"]!, /cgroup_skb programs: attach to a cgroup; xdp programs: attach XDP/);
  const dir = tempDir(t, "bpf2ts-deploy-");
  t.is(await typeCheck(dir, { net: ds }), "", "the object is a DaemonSet for kubernetes-types under --strict");
});

test("a tracer package carries a Containerfile and a DaemonSet that type-check, round-trip through YAML and run the built bin", async (t) => {
  const dir = tempDir(t, "bpf2ts-deploy-");
  const pkg = join(dir, "profile");
  generatePackage("profile", pkg);
  const manifest = JSON.parse(readFileSync(join(pkg, MANIFEST), "utf8")) as { files: Record<string, string> };
  t.truthy(manifest.files["Containerfile"], "the Containerfile is tracked in the package manifest");
  t.truthy(manifest.files["deploy/daemonset.yaml"], "and so is the DaemonSet");

  // The manifest: YAML that parses to the same object and prints back the same text.
  const { text, object } = readDaemonSet(join(pkg, "deploy/daemonset.yaml"));
  t.is(stringify(object, { lineWidth: 0, aliasDuplicateObjects: false }), text.replace(/^(#.*\n)+/, ""), "YAML round-trip");
  t.is(object.kind, "DaemonSet");
  const pod = object.spec!.template.spec!;
  const c = pod.containers[0]!;
  t.true(pod.hostPID);
  t.falsy(pod.hostNetwork, "a tracer needs no host network");
  t.deepEqual(c.securityContext!.capabilities!.drop, ["ALL"]);
  t.deepEqual(c.securityContext!.capabilities!.add, ["BPF", "PERFMON", "SYSLOG"], "profile's deploy.json adds CAP_SYSLOG");
  t.is(c.securityContext!.privileged, false);
  t.is(c.securityContext!.runAsUser, 0);
  t.regex(text, /# {3}CAP_SYSLOG: .*kallsyms/, "the header says why");
  t.deepEqual(c.volumeMounts!.map((m) => [m.mountPath, m.readOnly]), [["/sys/kernel/btf", true]], "perf_event needs no tracefs");
  t.deepEqual(object.spec!.template.metadata!.annotations!["prometheus.io/port"], "9435");
  t.deepEqual(c.ports, [{ name: "metrics", containerPort: 9435, protocol: "TCP" }]);
  t.deepEqual(c.args!.slice(0, 2), ["--metrics", "0.0.0.0:9435"]);
  t.truthy(c.resources!.limits!.memory && c.resources!.requests!.cpu);
  t.deepEqual(object.spec!.selector.matchLabels, object.spec!.template.metadata!.labels, "the selector matches the pod template");

  // Kubernetes' types accept it under --strict; a wrong field is rejected, so the check can fail.
  const broken = JSON.parse(JSON.stringify(object)) as { spec: { template: { spec: Record<string, unknown> } } };
  broken.spec.template.spec.hostPID = "yes";
  const diagnostics = await typeCheck(join(dir, "types"), { good: object, bad: broken });
  t.false(diagnostics.includes("good.ts"), diagnostics);
  t.regex(diagnostics, /bad\.ts.*Type 'string' is not assignable to type 'boolean( \| undefined)?'/);

  // The Containerfile: a Debian base with libbpf1, copies what the built package has, runs its bin.
  const cf = readFileSync(join(pkg, "Containerfile"), "utf8");
  t.regex(cf, /^FROM debian:/m);
  t.regex(cf, /apt-get install .*\bnodejs libbpf1\b/);
  t.notRegex(cf, /libbpf-dev|gcc|clang|make/, "runtime libraries only");
  mkdirSync(join(pkg, "node_modules/@bpf2ts"), { recursive: true });
  mkdirSync(join(pkg, "node_modules/@types"), { recursive: true });
  symlinkSync(join(repoRoot, "runtime"), join(pkg, "node_modules/@bpf2ts/runtime"));
  symlinkSync(join(repoRoot, "node_modules/@types/node"), join(pkg, "node_modules/@types/node"));
  await execFileP(process.execPath, [tsc, "-p", pkg]);
  const copies = [...cf.matchAll(/^COPY\s+(.+?)\s+(\S+)\s*$/gm)].map((m) => m[1]!);
  t.deepEqual(copies, ["package.json", "node_modules/", "dist/"]);
  for (const src of copies) t.true(existsSync(join(pkg, src)), `${src} exists in the built package`);
  const workdir = /^WORKDIR\s+(\S+)/m.exec(cf)![1]!;
  const entry = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(cf)![1]!) as string[];
  t.is(entry[0], "node");
  const bin = (JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { bin: Record<string, string> }).bin.profile!;
  t.is(entry[1], join(workdir, bin), "the entry point is the package's bin");
  t.true(existsSync(join(pkg, bin)), `${bin} was built`);
  const help = await execFileP(process.execPath, [join(pkg, bin), "--help"]);
  t.regex(help.stdout, /Usage: profile/, "and it runs");

  // README says how to deploy and why each capability is granted.
  const readme = readFileSync(join(pkg, "README.md"), "utf8");
  t.regex(readme, /## Deploy[\s\S]*`CAP_SYSLOG` \| .*kallsyms/);
});

test("regenerating keeps a DaemonSet the user edited; deploy.json is checked with errors naming the file", (t) => {
  const dir = tempDir(t, "bpf2ts-deploy-");
  const pkg = join(dir, "execsnoop");
  generatePackage("execsnoop", pkg);
  const yamlPath = join(pkg, "deploy/daemonset.yaml");
  const edited = readFileSync(yamlPath, "utf8").replace("memory: 384Mi", "memory: 1Gi");
  writeFileSync(yamlPath, edited);
  const out = execFileSync(process.execPath, [bpf2ts, "generate", "execsnoop", "execsnoop/execsnoop.bpf.c", "--target", "x64", "--package", pkg, "--", "-I", "."], { cwd: join(repoRoot, "bpf"), encoding: "utf8", stdio: "pipe" });
  t.is(readFileSync(yamlPath, "utf8"), edited, "the user's edit survives");
  t.true(existsSync(join(pkg, "Containerfile")));
  t.notRegex(out, /wrote .*daemonset\.yaml/);

  const bad = join(dir, "deploy.json");
  writeFileSync(bad, JSON.stringify({ capabilities: { SYS_ADMIN: "x" } }));
  t.throws(() => readDeployConfig(bad), { message: new RegExp(`${bad}: "capabilities": "SYS_ADMIN" is not a capability name`) });
  writeFileSync(bad, JSON.stringify({ capabilities: { CAP_SYS_ADMIN: "" } }));
  t.throws(() => readDeployConfig(bad), { message: /CAP_SYS_ADMIN: give the reason/ });
  writeFileSync(bad, JSON.stringify({ ports: 1 }));
  t.throws(() => readDeployConfig(bad), { message: /unknown field "ports"/ });
  writeFileSync(bad, "{");
  t.throws(() => readDeployConfig(bad), { message: /deploy\.json: not valid JSON/ });
});

test("every tracer's capabilities: the base plus what its deploy.json names, each with a reason", (t) => {
  const tracers = ["execsnoop", "opensnoop", "syscount", "runqlat", "softirqs", "tcpstates", "dropwatch", "oomkill", "profile", "httptrace", "gotrace"];
  for (const name of tracers) {
    const config = readDeployConfig(join(repoRoot, "bpf", name, "deploy.json")) ?? {};
    for (const [cap, why] of Object.entries(config.capabilities ?? {})) t.true(why.length > 20, `${name}: ${cap} has a reason`);
    const readme = readFileSync(join(repoRoot, "bpf/README.md"), "utf8");
    const row = readme.split("\n").find((l) => l.startsWith(`| \`${name}\` |`) && l.includes("CAP_BPF"));
    t.truthy(row, `bpf/README.md lists ${name}'s capabilities`);
    for (const cap of ["CAP_BPF", "CAP_PERFMON", ...Object.keys(config.capabilities ?? {})]) t.true(row!.includes(cap), `${name}: README names ${cap}`);
  }
});
