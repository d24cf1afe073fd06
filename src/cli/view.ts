/**
 * What `effect-docker up` shows: pure functions from container states to text.
 *
 * - {@link table}: the live table for a terminal (fits the width, colour unless `NO_COLOR`),
 *   redrawn in place with {@link redraw}.
 * - {@link plainLine}: one line per significant change, for CI logs (not a TTY).
 * - {@link ndjson}: one JSON object per state for `--json` (a `Redacted` value is never printed).
 *
 * @example
 * ```ts
 * import * as View from "./cli/view.js"
 *
 * const lines = View.table(
 *   { title: "demo", simulated: false, phase: "running", rows: [{ service: "job", state: undefined, note: View.waiting("for web (healthy)") }], messages: [] },
 *   { width: 80, color: false, now: new Date() }
 * )
 * process.stdout.write(View.redraw(0, lines))
 * ```
 *
 * @since 0.1.0
 */
import { Redacted } from "effect"

// ---------------------------------------------------------------------------------------------
// The model the view draws
// ---------------------------------------------------------------------------------------------

/**
 * The parts of a `ContainerState` the view reads (a `ContainerState` is one).
 *
 * @since 0.1.0
 */
export interface ViewState {
  readonly id: string | undefined
  readonly name: string
  readonly image: string
  readonly status: "pulling" | "created" | "running" | "restarting" | "exited"
  readonly pull:
    | {
        readonly bytesDone: number
        readonly bytesTotal: number
        readonly layersDone: number
        readonly layersTotal: number
        readonly percent: number | undefined
      }
    | undefined
  readonly health: "none" | "starting" | "healthy" | "unhealthy"
  readonly cpuPercent: number | undefined
  readonly memoryUsed: number | undefined
  readonly memoryLimit: number | undefined
  readonly rxRate: number | undefined
  readonly txRate: number | undefined
  readonly restartCount: number
  readonly startedAt: Date | undefined
  readonly exitCode: number | undefined
  readonly error: string | undefined
  /** Where it is reached: its ports published on the host (absent before it runs). */
  readonly address?: { readonly ports: ReadonlyArray<PublishedPort> } | undefined
  /** On Swarm: the replica's slot and the node it runs on (absent on one host). */
  readonly task?: { readonly slot: number; readonly node: string | undefined } | undefined
}

/**
 * A port published on the host, as the state gives it.
 *
 * @since 0.2.0
 */
export interface PublishedPort {
  readonly containerPort: number
  readonly protocol: "tcp" | "udp"
  readonly hostIp: string
  readonly hostPort: number
}

/**
 * The published ports as Compose's `ps` shows them: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp`.
 *
 * @since 0.2.0
 */
export const formatPorts = (ports: ReadonlyArray<PublishedPort>): string =>
  ports
    .map((port) => {
      const host = port.hostIp.includes(":") ? `[${port.hostIp}]` : port.hostIp
      return `${host}:${port.hostPort}->${port.containerPort}/${port.protocol}`
    })
    .join(", ")

/**
 * What the CLI knows of a service beyond its container's state: it waits for a dependency,
 * it is being stopped, it was removed, it failed for good. `status` replaces the status column
 * (the container's own status when absent) and `text` fills the rest of the row.
 *
 * @since 0.1.0
 */
export interface Note {
  readonly status: string | undefined
  readonly text: string
  readonly tone: "info" | "warn" | "bad"
}

/** @since 0.1.0 */
export const waiting = (text: string): Note => ({ status: "waiting", text, tone: "info" })

/**
 * One service's row: its latest state (none before the first) and the CLI's note, if any.
 *
 * @since 0.1.0
 */
export interface Row {
  readonly service: string
  readonly state: ViewState | undefined
  readonly note: Note | undefined
}

/**
 * The whole screen: a title, the rows, and a few messages under the table.
 *
 * @since 0.1.0
 */
export interface Screen {
  readonly title: string
  /** Running on MemoryEngine: said in the title, so nobody mistakes it for real containers. */
  readonly simulated: boolean
  readonly phase: "starting" | "running" | "stopping" | "stopped"
  readonly rows: ReadonlyArray<Row>
  readonly messages: ReadonlyArray<string>
}

/** @since 0.1.0 */
export interface RenderOptions {
  /** Terminal columns; no line is longer. */
  readonly width: number
  readonly color: boolean
  readonly now: Date
}

/**
 * Colour on a TTY unless `NO_COLOR` is set to anything non-empty (https://no-color.org).
 *
 * @since 0.1.0
 */
export const useColor = (env: Readonly<Record<string, string | undefined>>, isTTY: boolean): boolean =>
  isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb"

// ---------------------------------------------------------------------------------------------
// Numbers as people read them
// ---------------------------------------------------------------------------------------------

/**
 * Bytes in binary units, as `docker stats` shows memory: `512B`, `1.5KiB`, `12.3MiB`.
 *
 * @since 0.1.0
 */
export const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0
    ? `${Math.round(value)}B`
    : `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${units[unit]}`
}

/**
 * A rate in bits per second, SI units: `0b/s`, `840b/s`, `1.2kb/s`, `3.4Mb/s`.
 *
 * @since 0.1.0
 */
export const formatRate = (bitsPerSecond: number): string => {
  const units = ["b/s", "kb/s", "Mb/s", "Gb/s"]
  let value = bitsPerSecond
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0
    ? `${Math.round(value)}${units[0]}`
    : `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${units[unit]}`
}

/**
 * An uptime: `45s`, `3m05s`, `2h03m`, `3d04h`.
 *
 * @since 0.1.0
 */
export const formatUptime = (millis: number): string => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  const two = (n: number) => String(n).padStart(2, "0")
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${two(seconds % 60)}s`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h${two(Math.floor(seconds / 60) % 60)}m`
  return `${Math.floor(seconds / 86_400)}d${two(Math.floor(seconds / 3600) % 24)}h`
}

const formatPercent = (percent: number): string =>
  `${percent < 10 ? percent.toFixed(2) : percent.toFixed(1)}%`

/**
 * A progress bar `[#######.......] 45%` of `width` characters in all.
 *
 * @since 0.1.0
 */
export const progressBar = (percent: number | undefined, width: number): string => {
  const inner = Math.max(1, width - 7)
  if (percent === undefined) return `[${"?".repeat(inner)}]    ?`.slice(0, width)
  const clamped = Math.max(0, Math.min(100, percent))
  const filled = Math.round((clamped / 100) * inner)
  return `[${"#".repeat(filled)}${".".repeat(inner - filled)}] ${String(Math.floor(clamped)).padStart(3)}%`
}

// ---------------------------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------------------------

type Tone = "good" | "bad" | "warn" | "dim" | "bold" | "plain"

const TONES: Readonly<Record<Tone, string>> = {
  good: "\x1b[32m",
  bad: "\x1b[31m",
  warn: "\x1b[33m",
  dim: "\x1b[2m",
  bold: "\x1b[1m",
  plain: ""
}

const paint = (text: string, tone: Tone, color: boolean): string =>
  color && tone !== "plain" ? `${TONES[tone]}${text}\x1b[0m` : text

/**
 * The width a terminal shows (escape sequences take none).
 *
 * @since 0.1.0
 */
export const visibleWidth = (text: string): number => [...stripAnsi(text)].length

const stripAnsi = (text: string): string => text.replace(ANSI_ESCAPE, "")

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g

const truncate = (text: string, width: number): string => {
  const chars = [...text]
  if (chars.length <= width) return text
  return width <= 1 ? chars.slice(0, width).join("") : chars.slice(0, width - 1).join("") + "…"
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

interface Cell {
  readonly text: string
  readonly tone: Tone
}

const cell = (text: string, tone: Tone = "plain"): Cell => ({ text, tone })
const none = cell("-", "dim")

type Column =
  | "service"
  | "node"
  | "status"
  | "health"
  | "cpu"
  | "memory"
  | "rx"
  | "tx"
  | "restarts"
  | "uptime"
  | "ports"

const HEADERS: Readonly<Record<Column, string>> = {
  service: "SERVICE",
  node: "NODE",
  status: "STATUS",
  health: "HEALTH",
  cpu: "CPU",
  memory: "MEMORY",
  rx: "RX",
  tx: "TX",
  restarts: "RESTARTS",
  uptime: "UPTIME",
  ports: "PORTS"
}

/** Left to right; the columns dropped first when the terminal is narrow come first here. */
const DROP_ORDER: ReadonlyArray<Column> = [
  "tx",
  "rx",
  "memory",
  "cpu",
  "restarts",
  "health",
  "uptime",
  "ports",
  "node"
]
const ALL_COLUMNS: ReadonlyArray<Column> = [
  "service",
  "node",
  "status",
  "health",
  "cpu",
  "memory",
  "rx",
  "tx",
  "restarts",
  "uptime",
  "ports"
]
const METRICS: ReadonlyArray<Column> = ["health", "cpu", "memory", "rx", "tx", "restarts", "uptime", "ports"]

const statusTone = (state: ViewState): Tone => {
  switch (state.status) {
    case "running":
      return "good"
    case "restarting":
    case "pulling":
      return "warn"
    case "exited":
      return state.exitCode !== undefined && state.exitCode !== 0 ? "bad" : "plain"
    case "created":
      return "plain"
  }
}

const healthCell = (state: ViewState): Cell => {
  switch (state.health) {
    case "none":
      return none
    case "starting":
      return cell("starting", "warn")
    case "healthy":
      return cell("healthy", "good")
    case "unhealthy":
      return cell("unhealthy", "bad")
  }
}

const uptimeCell = (state: ViewState, now: Date): Cell => {
  if (state.status === "running" && state.startedAt !== undefined) {
    return cell(formatUptime(now.getTime() - state.startedAt.getTime()))
  }
  if (state.exitCode !== undefined)
    return cell(`exit ${state.exitCode}`, state.exitCode === 0 ? "plain" : "bad")
  return none
}

const metricCells = (state: ViewState, now: Date): Readonly<Record<Column, Cell>> => {
  const live = state.status === "running"
  const memory =
    live && state.memoryUsed !== undefined
      ? cell(
          state.memoryLimit !== undefined && state.memoryLimit > 0
            ? `${formatBytes(state.memoryUsed)} / ${formatBytes(state.memoryLimit)}`
            : formatBytes(state.memoryUsed)
        )
      : none
  return {
    service: cell(""),
    node: state.task?.node === undefined ? none : cell(state.task.node),
    status: cell(state.status, statusTone(state)),
    health: healthCell(state),
    cpu: live && state.cpuPercent !== undefined ? cell(formatPercent(state.cpuPercent)) : none,
    memory,
    rx: live && state.rxRate !== undefined ? cell(formatRate(state.rxRate)) : none,
    tx: live && state.txRate !== undefined ? cell(formatRate(state.txRate)) : none,
    restarts: cell(String(state.restartCount), state.restartCount > 0 ? "warn" : "plain"),
    uptime: uptimeCell(state, now),
    ports:
      live && (state.address?.ports.length ?? 0) > 0 ? cell(formatPorts(state.address?.ports ?? [])) : none
  }
}

/** A row is either one cell per column, or a status and one wide cell (a progress bar, a note). */
type Layout =
  | { readonly _tag: "cells"; readonly cells: Readonly<Record<Column, Cell>> }
  | { readonly _tag: "wide"; readonly status: Cell; readonly wide: (width: number) => Cell }

const layoutOf = (row: Row, now: Date): Layout => {
  const state = row.state
  const note = row.note
  if (note !== undefined) {
    const tone: Tone = note.tone === "bad" ? "bad" : note.tone === "warn" ? "warn" : "dim"
    const status =
      note.status !== undefined
        ? cell(note.status, tone)
        : state === undefined
          ? cell("waiting", "dim")
          : cell(state.status, statusTone(state))
    return { _tag: "wide", status, wide: (width) => cell(truncate(note.text, width), tone) }
  }
  if (state === undefined) return { _tag: "wide", status: cell("waiting", "dim"), wide: () => cell("") }
  if (state.status === "pulling") {
    const pull = state.pull
    return {
      _tag: "wide",
      status: cell("pulling", "warn"),
      wide: (width) => {
        const detail =
          pull === undefined
            ? ""
            : ` ${formatBytes(pull.bytesDone)}/${pull.bytesTotal > 0 ? formatBytes(pull.bytesTotal) : "?"}` +
              ` layers ${pull.layersDone}/${pull.layersTotal}`
        const barWidth = Math.max(8, Math.min(32, width - visibleWidth(detail)))
        return cell(truncate(progressBar(pull?.percent, barWidth) + detail, width), "warn")
      }
    }
  }
  return { _tag: "cells", cells: metricCells(state, now) }
}

const titleLine = (screen: Screen, options: RenderOptions): string => {
  const phase =
    screen.phase === "stopping"
      ? paint(" stopping…", "warn", options.color)
      : screen.phase === "stopped"
        ? paint(" stopped", "dim", options.color)
        : ""
  const tag = options.width >= 60 ? " [SIMULATED: MemoryEngine]" : " [SIMULATED]"
  const simulated = screen.simulated ? paint(tag, "warn", options.color) : ""
  const room = options.width - visibleWidth(phase) - visibleWidth(simulated)
  if (room < 8) return truncate(stripAnsi(screen.title + simulated + phase), options.width)
  return paint(truncate(screen.title, room), "bold", options.color) + simulated + phase
}

/**
 * The live table, one string per terminal line, none longer than `options.width`.
 *
 * @since 0.1.0
 */
export const table = (screen: Screen, options: RenderOptions): ReadonlyArray<string> => {
  const layouts = screen.rows.map((row) => layoutOf(row, options.now))
  const gap = 2
  const natural = (column: Column): number => {
    let width = HEADERS[column].length
    screen.rows.forEach((row, i) => {
      const layout = layouts[i]!
      if (column === "service") width = Math.max(width, [...row.service].length)
      else if (column === "node") width = Math.max(width, [...(row.state?.task?.node ?? "-")].length)
      else if (layout._tag === "cells") width = Math.max(width, [...layout.cells[column].text].length)
      else if (column === "status") width = Math.max(width, [...layout.status.text].length)
    })
    return width
  }
  // PORTS only when a service publishes one, NODE only on Swarm.
  const published = screen.rows.some((row) => (row.state?.address?.ports.length ?? 0) > 0)
  const onSwarm = screen.rows.some((row) => row.state?.task !== undefined)
  const widths = new Map<Column, number>(
    ALL_COLUMNS.filter((column) => (column !== "ports" || published) && (column !== "node" || onSwarm)).map(
      (column) => [column, natural(column)]
    )
  )
  const total = () => [...widths.values()].reduce((sum, w) => sum + w, 0) + gap * (widths.size - 1)
  for (const column of DROP_ORDER) {
    if (total() <= options.width) break
    widths.delete(column)
  }
  // Still too wide: the service and status names give way.
  for (const column of ["service", "status"] as const) {
    const excess = total() - options.width
    if (excess > 0) widths.set(column, Math.max(4, widths.get(column)! - excess))
  }
  const columns = ALL_COLUMNS.filter((column) => widths.has(column))
  const render = (cells: ReadonlyArray<readonly [Column | "wide", Cell]>): string => {
    const parts = cells.map(([column, c], i) => {
      const width = column === "wide" ? Number.POSITIVE_INFINITY : widths.get(column)!
      const text = truncate(c.text, width)
      const padded = i === cells.length - 1 ? text : text + " ".repeat(Math.max(0, width - [...text].length))
      return paint(padded, c.tone, options.color)
    })
    const line = parts.join(" ".repeat(gap))
    return visibleWidth(line) <= options.width ? line : truncate(stripAnsi(line), options.width)
  }
  const header = render(columns.map((column) => [column, cell(HEADERS[column], "dim")] as const))
  const rows = screen.rows.map((row, i) => {
    const layout = layouts[i]!
    const service = cell(row.service, "bold")
    if (layout._tag === "cells") {
      return render(
        columns.map((column) => [column, column === "service" ? service : layout.cells[column]] as const)
      )
    }
    const nodeShown = widths.has("node")
    const used =
      widths.get("service")! + widths.get("status")! + 2 * gap + (nodeShown ? widths.get("node")! + gap : 0)
    const wide = layout.wide(Math.max(1, options.width - used))
    const metricsShown = METRICS.some((column) => widths.has(column))
    const node = row.state?.task?.node
    return render([
      ["service", service],
      ...(nodeShown ? [["node", node === undefined ? none : cell(node)] as const] : []),
      ["status", layout.status],
      ...(metricsShown || wide.text !== "" ? [["wide", wide] as const] : [])
    ])
  })
  const messages = screen.messages.map((message) => truncate(message, options.width))
  return [titleLine(screen, options), header, ...rows, ...(messages.length > 0 ? ["", ...messages] : [])]
}

/**
 * The escape sequence that replaces the previous frame (`previousLines` lines) with `lines`,
 * without clearing the screen (no flicker, the scrollback stays).
 *
 * @since 0.1.0
 */
export const redraw = (previousLines: number, lines: ReadonlyArray<string>): string =>
  (previousLines > 0 ? `\x1b[${previousLines}F` : "") +
  lines.map((line) => `\x1b[2K${line}\n`).join("") +
  "\x1b[J"

// ---------------------------------------------------------------------------------------------
// Not a TTY: one line per significant change
// ---------------------------------------------------------------------------------------------

/**
 * What makes a state worth a line in plain mode: stats samples are not, a new status, health,
 * restart, exit or pull step (every 10 %) is.
 *
 * @since 0.1.0
 */
export const significance = (state: ViewState): string =>
  [
    state.status,
    state.health,
    state.restartCount,
    state.exitCode ?? "",
    state.error ?? "",
    state.status === "pulling" && state.pull?.percent !== undefined
      ? Math.floor(state.pull.percent / 10)
      : "",
    state.status === "running" ? formatPorts(state.address?.ports ?? []) : "",
    state.task?.node ?? ""
  ].join("|")

/**
 * One line for CI logs: `web: running, health starting, restarts 0` (on Swarm, the replica's
 * node last: `web-2: running, on node2`).
 *
 * @since 0.1.0
 */
export const plainLine = (service: string, state: ViewState): string => {
  const parts: Array<string> = [state.status]
  if (state.status === "pulling" && state.pull !== undefined) {
    parts.push(state.pull.percent === undefined ? "size unknown" : `${Math.floor(state.pull.percent)}%`)
  }
  if (state.health !== "none") parts.push(`health ${state.health}`)
  if (state.status === "running" && (state.address?.ports.length ?? 0) > 0)
    parts.push(`ports ${formatPorts(state.address?.ports ?? [])}`)
  if (state.restartCount > 0) parts.push(`restarts ${state.restartCount}`)
  if (state.exitCode !== undefined && state.status !== "running") parts.push(`exit ${state.exitCode}`)
  if (state.error !== undefined && state.status !== "running") parts.push(`error: ${oneLine(state.error)}`)
  if (state.task?.node !== undefined) parts.push(`on ${state.task.node}`)
  return `${service}: ${parts.join(", ")}`
}

/**
 * A multi-line error (`exited with code 3; last output:` then log lines) on one line.
 *
 * @since 0.1.0
 */
export const oneLine = (text: string, max = 200): string => {
  const line = text
    .split("\n")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .join(" ")
  return line.length > max ? line.slice(0, max - 1) + "…" : line
}

// ---------------------------------------------------------------------------------------------
// --json
// ---------------------------------------------------------------------------------------------

/**
 * One NDJSON line: `{"service":"web","status":"running",...}`. Dates as ISO strings, absent
 * values left out, any `Redacted` value written as `"<redacted>"`.
 *
 * @since 0.1.0
 */
export const ndjson = (
  service: string,
  state: ViewState,
  extra?: Readonly<Record<string, unknown>>
): string =>
  JSON.stringify({ service, ...extra, ...state }, (_key, value: unknown) =>
    Redacted.isRedacted(value) ? "<redacted>" : value
  )
