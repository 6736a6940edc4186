// The deployment files of a tracer package (`bpf2ts generate --package` when a CLI ships): a
// Containerfile and a Kubernetes DaemonSet that runs the CLI on every node with host PIDs, the host
// paths its programs read (kernel BTF, tracefs, bpffs, cgroupfs) and the least capabilities that
// work — those the kernel asks of the object's program and map types (the runtime contract's
// table), plus what the tracer's own `deploy.json` names, each with its reason.
//
// `deploy.json` beside the C source (optional):
//   { "capabilities": { "CAP_SYSLOG": "why" },   extra capabilities with the reason for each
//     "args": ["--binary", "/path"],              more arguments for the CLI in the DaemonSet
//     "metricsPort": 9435 }                       the port of `--metrics 0.0.0.0:PORT`; false: none

import { existsSync, readFileSync } from "node:fs";
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Volume, VolumeMount } from "kubernetes-types/core/v1.js";
import { stringify } from "yaml";
import { baseCapabilities, capabilitiesFor, type CapabilityNeed } from "@bpf2ts/runtime/contract";
import { Bpf2tsError } from "../errors.js";
import type { ObjectModel } from "../model/model.js";

export class DeployError extends Bpf2tsError {
  override name = "DeployError";
}

/** What a tracer's `deploy.json` may say (see the file comment). */
export interface DeployConfig {
  readonly capabilities?: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly metricsPort?: number | false;
}

/** The Prometheus port when `deploy.json` names none: the `--metrics 0.0.0.0:9435` convention. */
export const DEFAULT_METRICS_PORT = 9435;

/** Reads and checks a `deploy.json`; undefined when there is none. */
export function readDeployConfig(path: string): DeployConfig | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new DeployError(`${path}: not valid JSON (${(e as Error).message})`, { file: path, cause: e });
  }
  const bad = (what: string) => new DeployError(`${path}: ${what}`, { file: path });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("expected an object");
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!["capabilities", "args", "metricsPort", "$comment"].includes(k)) throw bad(`unknown field "${k}" (capabilities, args, metricsPort)`);
  if (c.capabilities !== undefined) {
    if (typeof c.capabilities !== "object" || c.capabilities === null || Array.isArray(c.capabilities)) throw bad('"capabilities": expected { "CAP_NAME": "reason" }');
    for (const [cap, why] of Object.entries(c.capabilities)) {
      if (!/^CAP_[A-Z_]+$/.test(cap)) throw bad(`"capabilities": ${JSON.stringify(cap)} is not a capability name (CAP_SYSLOG, CAP_SYS_PTRACE, …)`);
      if (typeof why !== "string" || why.trim() === "") throw bad(`"capabilities": ${cap}: give the reason it is needed`);
    }
  }
  if (c.args !== undefined && !(Array.isArray(c.args) && c.args.every((a) => typeof a === "string"))) throw bad('"args": expected an array of strings');
  if (c.metricsPort !== undefined && c.metricsPort !== false && !(Number.isInteger(c.metricsPort) && (c.metricsPort as number) > 0 && (c.metricsPort as number) < 65536)) {
    throw bad('"metricsPort": expected a port number or false');
  }
  return c as DeployConfig;
}

/** Every capability the tracer needs, with reasons: the base, what its programs and maps need, what deploy.json adds. */
export function tracerCapabilities(model: ObjectModel, config: DeployConfig = {}): CapabilityNeed[] {
  const needs = [...baseCapabilities, ...capabilitiesFor(model.programs, model.maps.map((m) => m.type))];
  for (const [capability, reason] of Object.entries(config.capabilities ?? {})) {
    const known = needs.find((n) => n.capability === capability);
    if (known) needs[needs.indexOf(known)] = { capability, reason: `${known.reason}; ${reason}` };
    else needs.push({ capability, reason });
  }
  return needs;
}

/** The host paths the programs need: BTF always, and what their kinds and maps read. */
function hostMounts(model: ObjectModel): Array<{ name: string; path: string; readOnly: boolean; why: string }> {
  const kinds = new Set(model.programs.map((p) => p.kind));
  const mounts = [{ name: "btf", path: "/sys/kernel/btf", readOnly: true, why: "kernel BTF for CO-RE relocations" }];
  if (kinds.has("tracepoint")) mounts.push({ name: "tracefs", path: "/sys/kernel/tracing", readOnly: true, why: "tracepoint ids and event formats" });
  if (model.maps.some((m) => m.pinning === "by_name")) mounts.push({ name: "bpffs", path: "/sys/fs/bpf", readOnly: false, why: "maps pinned by name" });
  if (model.programs.some((p) => p.progType.startsWith("cgroup") || p.progType === "sock_ops")) mounts.push({ name: "cgroup", path: "/sys/fs/cgroup", readOnly: true, why: "cgroups to attach to" });
  return mounts;
}

/** A container image name from an npm package name (`@scope/name` → `scope-name`). */
export function imageName(pkg: string): string {
  return pkg.replace(/^@/, "").replace(/\//g, "-");
}

export interface DeployInput {
  /** npm package name and version. */
  readonly name: string;
  readonly version: string;
  readonly stem: string;
  readonly model: ObjectModel;
  /** The CLI the container runs, relative to the package root (`dist/cli.js`). */
  readonly bin: string;
  readonly config?: DeployConfig;
}

/** The DaemonSet that runs the tracer on every node. */
export function daemonSet(d: DeployInput): DaemonSet {
  const config = d.config ?? {};
  const labels = { "app.kubernetes.io/name": imageName(d.name), "app.kubernetes.io/component": "tracer" };
  const port = config.metricsPort === undefined ? DEFAULT_METRICS_PORT : config.metricsPort;
  const mounts = hostMounts(d.model);
  const hostNetwork = d.model.programs.some((p) => p.kind === "xdp" || p.kind === "tc");
  const volumes: Volume[] = mounts.map((m) => ({ name: m.name, hostPath: { path: m.path, type: "Directory" } }));
  const volumeMounts: VolumeMount[] = mounts.map((m) => ({ name: m.name, mountPath: m.path, readOnly: m.readOnly }));
  const caps = tracerCapabilities(d.model, config);
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: imageName(d.name), labels },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: {
          labels,
          annotations: {
            ...(port !== false && { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" }),
            // Why each capability is there (securityContext.capabilities.add has no room for it).
            ...Object.fromEntries(caps.map((c) => [`bpf2ts/capability.${c.capability.slice(4).toLowerCase()}`, c.reason])),
          },
        },
        spec: {
          // Host PIDs: event pids are the node's, /proc/PID/{maps,root} of any process for symbols and uprobe targets.
          hostPID: true,
          ...(hostNetwork && { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }),
          // A node agent runs on every node, control plane and tainted nodes too.
          tolerations: [{ operator: "Exists" }],
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: d.stem,
              image: `${imageName(d.name)}:${d.version}`,
              args: [...(port !== false ? ["--metrics", `0.0.0.0:${port}`] : []), ...(config.args ?? [])],
              ...(port !== false && { ports: [{ name: "metrics", containerPort: port, protocol: "TCP" }] }),
              resources: { requests: { cpu: "50m", memory: "96Mi" }, limits: { cpu: "500m", memory: "384Mi" } },
              securityContext: {
                // uid 0 for /sys and /proc access, but only the listed capabilities: no privileged mode.
                runAsUser: 0,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"], add: caps.map((c) => c.capability.slice(4)) },
              },
              volumeMounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

/** `deploy/daemonset.yaml`: the DaemonSet with a header saying what it grants and why. */
export function daemonSetYaml(d: DeployInput): string {
  const caps = tracerCapabilities(d.model, d.config);
  const mounts = hostMounts(d.model);
  const header = [
    `DaemonSet for ${d.name} ${d.version}, written by bpf2ts generate --package (regenerated with it;`,
    `edit deploy.json beside the C source instead, or change this file and bpf2ts will keep it).`,
    `Build the image with the Containerfile; push it where your nodes pull from; kubectl apply -f this file.`,
    ``,
    `Capabilities (everything else dropped):`,
    ...caps.map((c) => `  ${c.capability}: ${c.reason}`),
    `Host paths: ${mounts.map((m) => `${m.path} (${m.why})`).join(", ")}.`,
    `hostPID: /proc shows the node's processes, so no separate /proc mount is needed.`,
    `The container runtime's seccomp profile must allow bpf() and perf_event_open().`,
  ];
  return `${header.map((l) => (l ? `# ${l}` : "#")).join("\n")}\n${stringify(daemonSet(d), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/** The Containerfile, from the template (placeholders: name, stem, version, bin, image). */
export function containerfile(template: string, d: DeployInput): string {
  const vars: Record<string, string> = { name: d.name, stem: d.stem, version: d.version, bin: d.bin, image: imageName(d.name) };
  return template.replace(/\{\{(\w+)\}\}/g, (m, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new DeployError(`template Containerfile: unknown placeholder ${m}`);
    return v;
  });
}

/** The README section on deployment. */
export function deployReadme(d: DeployInput): string {
  const caps = tracerCapabilities(d.model, d.config);
  return [
    "## Deploy",
    "",
    "`Containerfile` builds an image (Debian with `nodejs` and `libbpf1`; no compiler: the runtime's addon is",
    "prebuilt) and `deploy/daemonset.yaml` runs it on every node of a Kubernetes cluster:",
    "",
    "```sh",
    "npm install && npm run build && npm prune --omit=dev",
    `podman build -t ${imageName(d.name)}:${d.version} -f Containerfile .`,
    "kubectl apply -f deploy/daemonset.yaml",
    "```",
    "",
    "It runs as uid 0 with every capability dropped but these:",
    "",
    "| capability | why |",
    "| --- | --- |",
    ...caps.map((c) => `| \`${c.capability}\` | ${c.reason.replace(/\|/g, "\\|")} |`),
  ].join("\n");
}
