/**
 * What every scenario shares: the run's settings, summaries of samples (median and
 * spread), the rows of the result table, and how the table is printed and saved.
 */
import { writeFileSync } from "node:fs"
import * as Os from "node:os"
import { Effect } from "effect"

/** The settings of one run: `--quick` is small N and few rounds, for CI. */
export interface Settings {
  readonly quick: boolean
  /** Scenario names to run (all when empty). */
  readonly only: ReadonlyArray<string>
  /** `--sizes 20,100`: the supervision scenario's container counts (default 20 and 100). */
  readonly sizes?: ReadonlyArray<number> | undefined
  /** `--window 10`: the supervision scenario's window in seconds (default 30). */
  readonly windowSeconds?: number | undefined
  /** `--scale-n 30`: the scale scenario's container count (default 100). */
  readonly scaleN?: number | undefined
}

/** A summary of samples: the median, with the spread shown as min and max. */
export interface Figure {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly p95: number
  readonly unit: Unit
  readonly samples: ReadonlyArray<number>
}

/** `ms` durations, `MB/s` throughput, `MiB` memory, `cpu-ms` CPU time, `count`. */
export type Unit = "ms" | "MB/s" | "MiB" | "cpu-ms" | "count"

/** Whether a bigger ratio is better (throughput) or worse (time). */
type Direction = "lower" | "higher"

/** One line of the result table. */
export interface Row {
  readonly scenario: string
  readonly ours: Figure
  readonly reference?: { readonly name: string; readonly figure: Figure } | undefined
  /** ours / reference (or another ratio the target is about, named in `target`). */
  readonly ratio?: number | undefined
  /** The target, e.g. `<= 1.10`; `info` rows have none. */
  readonly target?:
    | { readonly text: string; readonly direction: Direction; readonly limit: number }
    | undefined
  readonly note?: string | undefined
  /** The scenario failed: why (its figures are missing). */
  readonly error?: string | undefined
}

/** The row of a scenario that failed: the table shows it, the run fails at the end. */
export const failed = (scenario: string, error: string): Row => ({
  scenario,
  ours: figure([], "ms"),
  error
})

const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const below = Math.floor(position)
  const above = Math.ceil(position)
  const low = sorted[below] ?? Number.NaN
  const high = sorted[above] ?? Number.NaN
  return low + (high - low) * (position - below)
}

/** The median, min, max and p95 of samples. */
export const figure = (samples: ReadonlyArray<number>, unit: Unit): Figure => {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    p95: quantile(sorted, 0.95),
    unit,
    samples
  }
}

/** The figure of one quantile (p50, p95) of latencies, with the same samples. */
export const quantileFigure = (samples: ReadonlyArray<number>, q: number, unit: Unit): Figure => {
  const whole = figure(samples, unit)
  const value = quantile(
    [...samples].sort((a, b) => a - b),
    q
  )
  return { ...whole, median: value }
}

/** At most `limit` (`<= limit`): for times and costs. */
export const atMost = (limit: number) => ({
  text: `<= ${limit.toFixed(2)}`,
  direction: "lower" as const,
  limit
})

/** At least `limit` (`>= limit`): for counts and throughput. */
export const atLeast = (limit: number) => ({
  text: `>= ${limit.toFixed(2)}`,
  direction: "higher" as const,
  limit
})

/** A row comparing ours with a reference, the ratio of medians judged against `target`. */
export const compare = (
  scenario: string,
  ours: Figure,
  reference: { readonly name: string; readonly figure: Figure },
  target?: Row["target"],
  note?: string
): Row => ({
  scenario,
  ours,
  reference,
  ratio: ours.median / reference.figure.median,
  target,
  note
})

/** `pass`, `FAIL`, `info` (no target) or `ERROR` (the scenario failed). */
export const verdict = (row: Row): "pass" | "FAIL" | "info" | "ERROR" => {
  if (row.error !== undefined) return "ERROR"
  if (row.target === undefined || row.ratio === undefined) return "info"
  const ok = row.target.direction === "lower" ? row.ratio <= row.target.limit : row.ratio >= row.target.limit
  return ok ? "pass" : "FAIL"
}

const number = (value: number): string => {
  if (!Number.isFinite(value)) return "-"
  if (Math.abs(value) >= 100) return value.toFixed(0)
  if (Math.abs(value) >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** `1.23 s (1.10-1.40)`: the median and, when there are several samples, min-max. */
export const show = (value: Figure): string => {
  const seconds = value.unit === "ms" && value.median >= 1000
  const scale = (n: number) => (seconds ? n / 1000 : n)
  const unit = seconds ? "s" : value.unit
  if (value.samples.length === 0) return "-"
  const spread = value.samples.length > 1 ? ` (${number(scale(value.min))}-${number(scale(value.max))})` : ""
  return `${number(scale(value.median))} ${unit}${spread}`
}

/** The rows as a plain-text table. */
export const table = (rows: ReadonlyArray<Row>): string => {
  const header = ["scenario", "ours", "reference", "ratio", "target", "result"]
  const lines = rows.map((row) => [
    row.scenario,
    show(row.ours),
    row.reference === undefined ? "-" : `${show(row.reference.figure)} ${row.reference.name}`,
    row.ratio === undefined ? "-" : number(row.ratio),
    row.target?.text ?? "-",
    verdict(row)
  ])
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => (line[column] ?? "").length))
  )
  const format = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join(" | ")
      .trimEnd()
  const notes = rows
    .filter((row) => row.note !== undefined || row.error !== undefined)
    .map((row) => `  ${row.scenario}: ${row.error ?? row.note}`)
  return [
    format(header),
    widths.map((width) => "-".repeat(width)).join("-|-"),
    ...lines.map(format),
    ...(notes.length > 0 ? ["", "notes:", ...notes] : [])
  ].join("\n")
}

/** The machine the figures come from. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly kernel: string
  readonly node: string
  readonly engine: string
}

export const machine = (engine: string): Machine => ({
  cpu: Os.cpus()[0]?.model ?? "unknown",
  cores: Os.cpus().length,
  memoryGiB: Math.round(Os.totalmem() / 2 ** 30),
  kernel: Os.release(),
  node: process.version,
  engine
})

/** Writes the figures as JSON (samples included) next to the bench's sources. */
export const save = (path: string, settings: Settings, host: Machine, rows: ReadonlyArray<Row>) =>
  Effect.sync(() =>
    writeFileSync(
      path,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          mode: settings.quick ? "quick" : "full",
          machine: host,
          rows: rows.map((row) => ({ ...row, result: verdict(row) }))
        },
        null,
        2
      )}\n`
    )
  )

/** Milliseconds since an arbitrary origin (monotonic). */
export const now = (): number => performance.now()

/** Runs `round` `rounds` times, one after another, and collects its samples. */
export const rounds = <A, E, R>(count: number, round: (index: number) => Effect.Effect<A, E, R>) =>
  Effect.forEach(
    Array.from({ length: count }, (_, index) => index),
    round
  )

/** Logs progress on stderr, so stdout holds only the table. */
export const progress = (message: string) => Effect.sync(() => process.stderr.write(`[bench] ${message}\n`))
