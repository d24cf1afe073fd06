/**
 * How the in-memory engine's containers are reached and what they see: host ports bound at
 * each start (random ones from Docker's ephemeral range, fixed ones checked for conflicts) and
 * released at the exit, and mounts: named volumes whose files outlive the container (created
 * on first use, as Docker does), anonymous volumes removed with it, tmpfs emptied at each
 * start, and binds that read and write the host path itself.
 *
 * @internal
 */
import * as Fs from "node:fs"
import * as Posix from "node:path/posix"
import type { ContainerInspect, CreateContainerOptions } from "../../DockerEngine.js"
import { makeId } from "./docker.js"
import { emit } from "./events.js"
import {
  type ContainerRecord,
  type FileRecord,
  nanosToMillis,
  type Store,
  type VolumeRecord
} from "./store.js"

/** A published port as the engine bound it at the last start. */
export type BoundPort = ContainerInspect["ports"][number]

/** One mount of a container, its files shared with the volume when it is one. */
export interface MountRecord {
  readonly type: "bind" | "volume" | "tmpfs"
  /** Normalised, without a trailing `/`. */
  readonly target: string
  readonly readOnly: boolean
  /** The volume's name (volumes only). */
  readonly name: string | undefined
  /** The host path (binds), or where Docker keeps a volume's data. */
  readonly source: string
  readonly anonymous: boolean
  /** The files of a volume or tmpfs, by absolute path inside the mount (`/` is its root). */
  files: Map<string, FileRecord> | undefined
}

const emptyTree = (mode = 0o755): Map<string, FileRecord> =>
  new Map([["/", { type: "directory", mode, content: new Uint8Array() }]])

/** The files of a named volume, created empty on first use (as `docker run -v name:/path` does). */
const volumeTree = (store: Store, name: string, nowNanos: bigint): Map<string, FileRecord> => {
  const existing = store.volumes.get(name)
  if (existing !== undefined) return existing.files
  const volume: VolumeRecord = {
    name,
    driver: "local",
    labels: {},
    options: {},
    createdMs: nanosToMillis(nowNanos),
    files: emptyTree()
  }
  store.volumes.set(name, volume)
  emit(store, nowNanos, "volume", "create", name, { driver: "local" })
  return volume.files
}

/** The mounts of a new container, named and anonymous volumes created as needed. */
export const mountsOf = (
  store: Store,
  options: CreateContainerOptions,
  nowNanos: bigint
): ReadonlyArray<MountRecord> =>
  (options.mounts ?? []).map((mount): MountRecord => {
    const target = Posix.normalize(mount.target).replace(/(.)\/+$/, "$1")
    const readOnly = mount.readOnly === true
    switch (mount.type) {
      case "bind":
        return {
          type: "bind",
          target,
          readOnly,
          name: undefined,
          source: mount.source,
          anonymous: false,
          files: undefined
        }
      case "volume": {
        const anonymous = mount.source === undefined || mount.source.length === 0
        const name = anonymous ? makeId("volume", ++store.counters.volume) : (mount.source ?? "")
        return {
          type: "volume",
          target,
          readOnly,
          name,
          source: `/var/lib/docker/volumes/${name}/_data`,
          anonymous,
          files: volumeTree(store, name, nowNanos)
        }
      }
      default:
        return {
          type: "tmpfs",
          target,
          readOnly,
          name: undefined,
          source: "",
          anonymous: false,
          files: emptyTree(mount.mode ?? 0o1777)
        }
    }
  })

/** A start empties every tmpfs. */
export const resetTmpfsSync = (c: ContainerRecord): void => {
  for (const mount of c.mounts) {
    if (mount.type === "tmpfs") mount.files = emptyTree(mount.files?.get("/")?.mode ?? 0o1777)
  }
}

/** Removal with `volumes: true` removes the container's anonymous volumes, as Docker does. */
export const removeAnonymousVolumesSync = (store: Store, c: ContainerRecord, nowNanos: bigint): void => {
  for (const mount of c.mounts) {
    if (mount.anonymous && mount.name !== undefined && store.volumes.delete(mount.name)) {
      emit(store, nowNanos, "volume", "destroy", mount.name, { driver: "local" })
    }
  }
}

/** Where a path of the container lives: its own tree, a mount's tree, or a host path. */
export type Location =
  | {
      readonly _tag: "Tree"
      readonly files: Map<string, FileRecord>
      readonly path: string
      readonly readOnly: boolean
    }
  | { readonly _tag: "Host"; readonly path: string; readonly readOnly: boolean }

/** The location of an absolute, normalised `path`: the deepest mount holding it wins. */
export const locate = (c: ContainerRecord, path: string): Location => {
  let best: MountRecord | undefined
  for (const mount of c.mounts) {
    const inside = path === mount.target || path.startsWith(`${mount.target}/`)
    if (inside && (best === undefined || mount.target.length > best.target.length)) best = mount
  }
  if (best === undefined) {
    return { _tag: "Tree", files: c.files, path, readOnly: c.options.readonlyRootfs === true }
  }
  const inner = `/${path.slice(best.target.length).replace(/^\/+/, "")}`
  if (best.type === "bind")
    return { _tag: "Host", path: Posix.join(best.source, inner), readOnly: best.readOnly }
  return { _tag: "Tree", files: best.files ?? emptyTree(), path: inner, readOnly: best.readOnly }
}

/** Is `path` a directory where the container sees it? */
export const isDirectory = (c: ContainerRecord, path: string): boolean => {
  const location = locate(c, path)
  if (location._tag === "Host") {
    try {
      return Fs.statSync(location.path).isDirectory()
    } catch {
      return false
    }
  }
  // A mount's root is a directory even in a volume created empty (`createVolume`).
  if (location.files !== c.files && location.path === "/") return true
  return location.files.get(location.path)?.type === "directory"
}

/** The file at `path` as the container sees it, or `undefined`. */
export const readFileSync = (c: ContainerRecord, path: string): FileRecord | undefined => {
  const location = locate(c, path)
  if (location._tag === "Host") {
    try {
      const stat = Fs.statSync(location.path)
      return stat.isFile()
        ? { type: "file", mode: stat.mode & 0o7777, content: new Uint8Array(Fs.readFileSync(location.path)) }
        : undefined
    } catch {
      return undefined
    }
  }
  return location.files.get(location.path)
}

/**
 * Writes one entry where the container sees `path`, creating missing parent directories;
 * a message when the location is read-only.
 */
export const writeEntrySync = (c: ContainerRecord, path: string, entry: FileRecord): string | undefined => {
  const location = locate(c, path)
  if (location.readOnly) {
    return location._tag === "Tree" && location.files === c.files
      ? "container rootfs is marked read-only"
      : "mounted volume is marked read-only"
  }
  if (location._tag === "Host") {
    if (entry.type === "directory") Fs.mkdirSync(location.path, { recursive: true })
    else {
      Fs.mkdirSync(Posix.dirname(location.path), { recursive: true })
      Fs.writeFileSync(location.path, entry.content, { mode: entry.mode })
    }
    return undefined
  }
  let dir = Posix.dirname(location.path)
  while (!location.files.has(dir)) {
    location.files.set(dir, { type: "directory", mode: 0o755, content: new Uint8Array() })
    dir = Posix.dirname(dir)
  }
  location.files.set(location.path, entry)
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/** Docker's ephemeral range for ports it chooses (`/proc/sys/net/ipv4/ip_local_port_range`). */
const firstRandomPort = 32768
const lastRandomPort = 60999

/** Bindings asked for: the deprecated `ports` map and `portBindings`. */
export const portBindingsOf = (options: CreateContainerOptions): ReadonlyArray<BoundPort> => [
  ...Object.entries(options.ports ?? {}).map(([key, hostPort]) => {
    const [port, protocol] = key.split("/")
    return {
      containerPort: Number(port),
      protocol: protocol ?? "tcp",
      hostIp: "127.0.0.1",
      hostPort: Number(hostPort ?? 0) || 0
    }
  }),
  ...(options.portBindings ?? []).map((binding) => ({
    containerPort: binding.containerPort,
    protocol: binding.protocol,
    hostIp: binding.hostIp ?? "",
    hostPort: binding.hostPort ?? 0
  }))
]

const anyAddress = (ip: string) => ip === "" || ip === "0.0.0.0" || ip === "::"

const overlaps = (a: BoundPort, b: BoundPort) =>
  a.hostPort === b.hostPort &&
  a.protocol === b.protocol &&
  (anyAddress(a.hostIp) || anyAddress(b.hostIp) || a.hostIp === b.hostIp)

const boundByOthers = (store: Store, c: ContainerRecord): ReadonlyArray<BoundPort> =>
  [...store.containers.values()].flatMap((other) => (other === c ? [] : other.ports))

/**
 * Binds the container's ports for a start, as the engine does: fixed ones unless another
 * container holds them, random ones from the ephemeral range. A message when one is taken
 * (Docker's own, which it answers with a 500).
 */
export const bindPortsSync = (store: Store, c: ContainerRecord): string | undefined => {
  const taken = [...boundByOthers(store, c)]
  const bound: Array<BoundPort> = []
  for (const wanted of portBindingsOf(c.options)) {
    const hostIp = anyAddress(wanted.hostIp) ? "0.0.0.0" : wanted.hostIp
    let hostPort = wanted.hostPort
    if (hostPort === 0) {
      const free = (port: number) =>
        !taken.some((other) => overlaps(other, { ...wanted, hostIp, hostPort: port }))
      let candidate = store.counters.hostPort
      while (!free(candidate)) candidate = candidate >= lastRandomPort ? firstRandomPort : candidate + 1
      hostPort = candidate
      store.counters.hostPort = candidate >= lastRandomPort ? firstRandomPort : candidate + 1
    } else if (taken.some((other) => overlaps(other, { ...wanted, hostIp, hostPort }))) {
      return `driver failed programming external connectivity on endpoint ${c.name} (${c.id}): Bind for ${hostIp}:${hostPort} failed: port is already allocated`
    }
    const port = { containerPort: wanted.containerPort, protocol: wanted.protocol, hostIp, hostPort }
    bound.push(port)
    taken.push(port)
  }
  c.ports = bound
  return undefined
}

/** An exit frees the container's host ports. */
export const releasePortsSync = (c: ContainerRecord): void => {
  c.ports = []
}

/** The inspect view of the mounts (`Mounts`). */
export const mountsInspect = (c: ContainerRecord): ContainerInspect["mounts"] =>
  c.mounts.map((mount) => ({
    type: mount.type,
    ...(mount.name === undefined ? {} : { name: mount.name }),
    source: mount.source,
    destination: mount.target,
    readOnly: mount.readOnly
  }))
