/**
 * The labels the library puts on containers and networks, under a configurable prefix
 * (default `dev.effect-docker.`): `app`, `instance`, `component`, and `owner` (hostname, pid
 * and start time of the owning process) so that `removeStale` can tell dead instances from
 * live ones.
 *
 * @internal
 */
import * as Os from "node:os"
import type { LabelFilter } from "../DockerModel.js"

/** The default label prefix. @internal */
export const defaultPrefix = "dev.effect-docker."

/** The label keys under one prefix. @internal */
export interface LabelKeys {
  readonly prefix: string
  readonly app: string
  readonly instance: string
  readonly component: string
  readonly owner: string
}

/** The label keys under `prefix` (a trailing `.` is added when missing). @internal */
export const keys = (prefix: string = defaultPrefix): LabelKeys => {
  const normalised = prefix.endsWith(".") ? prefix : `${prefix}.`
  return {
    prefix: normalised,
    app: `${normalised}app`,
    instance: `${normalised}instance`,
    component: `${normalised}component`,
    owner: `${normalised}owner`
  }
}

/** Does `key` belong to the library (under its prefix)? User labels may not. @internal */
export const isReserved = (labelKeys: LabelKeys, key: string): boolean => key.startsWith(labelKeys.prefix)

/** The process that owns an instance. @internal */
export interface Owner {
  readonly hostname: string
  readonly pid: number
  /** When the process started, Unix milliseconds (tells a reused pid apart). */
  readonly startedAt: number
}

/** `hostname/pid/startedAt`: hostnames hold no `/`. @internal */
export const formatOwner = (owner: Owner): string =>
  `${owner.hostname}/${owner.pid}/${Math.round(owner.startedAt)}`

/** Reads an owner label back; `undefined` when it is not one. @internal */
export const parseOwner = (value: string): Owner | undefined => {
  const match = /^(.+)\/(\d+)\/(\d+)$/.exec(value)
  if (match === null) return undefined
  const [, hostname, pid, startedAt] = match
  if (hostname === undefined || pid === undefined || startedAt === undefined) return undefined
  return { hostname, pid: Number(pid), startedAt: Number(startedAt) }
}

/** This process as an owner. @internal */
export const thisProcess = (): Owner => ({
  hostname: Os.hostname(),
  pid: process.pid,
  startedAt: Math.round(performance.timeOrigin)
})

/** The owner label value of this process. @internal */
export const currentOwner = (): string => formatOwner(thisProcess())

/** What is known of the machine asking whether an owner is alive. @internal */
export interface Host {
  readonly hostname: string
  readonly isPidAlive: (pid: number) => boolean
  /** The owner label of the asking process itself. */
  readonly self?: Owner | undefined
}

/**
 * Is the owner's process gone? Only an owner on this host whose pid is not alive is gone;
 * an owner on another host, or an unreadable label, is never called gone, so live
 * instances are never removed.
 *
 * @internal
 */
export const ownerGone = (owner: Owner, host: Host): boolean => {
  if (owner.hostname !== host.hostname) return false
  if (host.self !== undefined && host.self.pid === owner.pid) {
    // Our own pid: it is us unless the start time says an earlier process had the pid.
    return host.self.startedAt !== owner.startedAt
  }
  return !host.isPidAlive(owner.pid)
}

/** Is a process with this pid alive on this host? @internal */
export const isPidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

/** Is the owner named by this label value gone (on this host, with this process as self)? @internal */
export const isOwnerGone = (ownerLabel: string): boolean => {
  const owner = parseOwner(ownerLabel)
  return owner === undefined
    ? false
    : ownerGone(owner, { hostname: Os.hostname(), isPidAlive, self: thisProcess() })
}

/** Docker's rule for container, network and volume names. */
const dockerName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/
const nameCharacters = /^[a-zA-Z0-9_.-]+$/

/** The longest app or instance id: `<app>-<instance>-<name>` stays well under a file name's 255 bytes. @internal */
export const maxNamePartLength = 64

/**
 * What is wrong with an instance's app or instance id, which become part of every
 * container, network and volume name (`<app>-<instance>-<name>`) and of label values and
 * filters: `undefined` when Docker would accept both. The characters allowed leave label
 * values safe too (no `=`, `,`, space or quote in a `label=key=value` filter).
 *
 * @internal
 */
export const namesIssue = (options: {
  readonly app: string
  readonly instanceId: string
}): { readonly field: "app" | "instanceId"; readonly message: string } | undefined => {
  const tooLong = (value: string) => value.length > maxNamePartLength
  if (tooLong(options.app) || !dockerName.test(options.app)) {
    return {
      field: "app",
      message: tooLong(options.app)
        ? `the app name is longer than ${maxNamePartLength} characters`
        : `the app name must hold only letters, digits, '_', '.' and '-', starting with a letter or digit (it is part of container and network names), got ${JSON.stringify(options.app)}`
    }
  }
  if (tooLong(options.instanceId) || !nameCharacters.test(options.instanceId)) {
    return {
      field: "instanceId",
      message: tooLong(options.instanceId)
        ? `the instance id is longer than ${maxNamePartLength} characters`
        : `the instance id must hold only letters, digits, '_', '.' and '-' (it is part of container and network names), got ${JSON.stringify(options.instanceId)}`
    }
  }
  return undefined
}

/** The labels of an instance (on its network and every container). @internal */
export const instanceLabels = (
  labelKeys: LabelKeys,
  options: { readonly app: string; readonly instance: string; readonly owner: string }
): Record<string, string> => ({
  [labelKeys.app]: options.app,
  [labelKeys.instance]: options.instance,
  [labelKeys.owner]: options.owner
})

/** The labels of one container: the user's, then the instance's and the component (which win). @internal */
export const containerLabels = (
  labelKeys: LabelKeys,
  options: {
    readonly app: string
    readonly instance: string
    readonly owner: string
    readonly component: string
    readonly user?: Readonly<Record<string, string>> | undefined
  }
): Record<string, string> => ({
  ...options.user,
  ...instanceLabels(labelKeys, options),
  [labelKeys.component]: options.component
})

/** Every container or network of the app, any instance. @internal */
export const selectApp = (labelKeys: LabelKeys, app: string): LabelFilter => ({ [labelKeys.app]: app })

/** Every container or network of one instance. @internal */
export const selectInstance = (labelKeys: LabelKeys, app: string, instance: string): LabelFilter => ({
  [labelKeys.app]: app,
  [labelKeys.instance]: instance
})

/** One component's containers of one instance. @internal */
export const selectComponent = (
  labelKeys: LabelKeys,
  app: string,
  instance: string,
  component: string
): LabelFilter => ({
  ...selectInstance(labelKeys, app, instance),
  [labelKeys.component]: component
})
