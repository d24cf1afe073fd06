/**
 * Newline-delimited JSON from the engine's streaming endpoints (pull progress, stats,
 * events): bytes in, one decoded value per line out, whatever the chunk boundaries.
 *
 * @internal
 */
import { Effect, Result, Schema, Stream } from "effect"
import * as DockerError from "../DockerError.js"

/** The longest line kept by default: 1 MiB. @internal */
export const defaultMaxLineBytes = 1024 * 1024

/** Options of {@link lines} and {@link decode}. @internal */
export interface Options {
  /**
   * A line longer than this many bytes is dropped (with a warning) rather than buffered
   * (default {@link defaultMaxLineBytes}): output that never sends a newline must not grow
   * the buffer without bound, and a cut piece of JSON could not be decoded anyway.
   */
  readonly maxLineBytes?: number | undefined
}

interface Framing {
  /** The start of a line whose end has not arrived yet, as received. */
  partial: Array<Uint8Array>
  partialBytes: number
  /** The current line grew past the cap: its bytes are dropped up to its newline. */
  dropping: boolean
}

const NEWLINE = 0x0a
const newline = Uint8Array.of(NEWLINE)
const decoder = new TextDecoder()

const join = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const joined = new Uint8Array(size)
  let offset = 0
  for (const part of parts) {
    joined.set(part, offset)
    offset += part.length
  }
  return joined
}

/**
 * The synchronous core of {@link lines}: bytes pushed in, chunk by chunk, the values of the
 * complete lines out. A line may span chunks, a chunk may hold many lines; blank lines are
 * skipped; a line longer than `maxLineBytes` is dropped up to its newline and counted.
 *
 * @internal
 */
export interface Splitter<A> {
  /**
   * The values of the lines `chunk` completes, appended to `values`; the first line that is
   * not JSON or that `read` refuses stops it with a `Decode` error.
   */
  readonly push: (chunk: Uint8Array, values: Array<A>) => DockerError.DockerError | undefined
  /** The last line, when it has no newline of its own. */
  readonly finish: (values: Array<A>) => DockerError.DockerError | undefined
  /** Lines dropped for their length since the last call. */
  readonly takeDrops: () => number
}

/** @internal */
export const splitter = <A>(
  operation: string,
  read: (json: unknown, line: string) => Result.Result<A, unknown>,
  options?: Options
): Splitter<A> => {
  const maxLineBytes = Math.max(1, options?.maxLineBytes ?? defaultMaxLineBytes)
  const framing: Framing = { partial: [], partialBytes: 0, dropping: false }
  let drops = 0
  const readLine = (line: string): Result.Result<A, unknown> => {
    let json: unknown
    try {
      json = JSON.parse(line)
    } catch (cause) {
      return Result.fail(cause)
    }
    return read(json, line)
  }
  // Adds bytes of the current line; past the cap the line is forgotten, once.
  const append = (segment: Uint8Array) => {
    if (framing.dropping || segment.length === 0) return
    if (framing.partialBytes + segment.length > maxLineBytes) {
      framing.partial = []
      framing.partialBytes = 0
      framing.dropping = true
      drops++
      return
    }
    framing.partial.push(segment)
    framing.partialBytes += segment.length
  }
  const push = (chunk: Uint8Array, values: Array<A>): DockerError.DockerError | undefined => {
    let start = 0
    let end = chunk.indexOf(NEWLINE)
    while (end !== -1) {
      append(chunk.subarray(start, end))
      start = end + 1
      end = chunk.indexOf(NEWLINE, start)
      if (framing.dropping) {
        framing.dropping = false
        continue
      }
      // Newline bytes never occur inside a UTF-8 character: each line decodes on its own.
      const line = decoder.decode(join(framing.partial, framing.partialBytes))
      framing.partial = []
      framing.partialBytes = 0
      if (line.trim().length === 0) continue
      const value = readLine(line)
      if (Result.isFailure(value)) return DockerError.decode(operation, value.failure)
      values.push(value.success)
    }
    // A copy: the tail must not keep the whole chunk alive.
    append(chunk.slice(start))
    return undefined
  }
  return {
    push,
    // The last line is ended by a newline of our own, so it is decoded (or fails) like the others.
    finish: (values) => push(newline, values),
    takeDrops: () => {
      const count = drops
      drops = 0
      return count
    }
  }
}

/** The warning for lines dropped for their length. @internal */
export const droppedLines = (operation: string, count: number, options?: Options) =>
  Effect.logWarning(
    `${operation}: dropped ${count === 1 ? "a line" : `${count} lines`} longer than ${Math.max(1, options?.maxLineBytes ?? defaultMaxLineBytes)} bytes`
  )

/**
 * Splits a byte stream into lines (a line may span chunks, a chunk may hold many lines),
 * drops blank lines, parses each line as JSON and reads it with `read` (which also gets the
 * line's text, for what `JSON.parse` cannot keep exact). A line that is not
 * JSON or that `read` refuses fails the stream with a `Decode` error; a last line without a
 * newline counts. A line longer than `maxLineBytes` is dropped with a warning and the stream
 * goes on.
 *
 * One synchronous step per chunk rather than a stage per step (`decodeText`, `splitLines`,
 * `mapEffect`): a stream may deliver a line a second per container for as long as the
 * container runs, so what each line costs is the supervisor's steady CPU.
 */
export const lines =
  <A>(
    operation: string,
    read: (json: unknown, line: string) => Result.Result<A, unknown>,
    options?: Options
  ) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<A, E | DockerError.DockerError, R> =>
    bytes.pipe(
      Stream.concat(Stream.succeed(newline)),
      Stream.mapAccumArrayEffect(
        () => splitter(operation, read, options),
        (lines, chunks) => {
          const values: Array<A> = []
          for (const chunk of chunks) {
            const failure = lines.push(chunk, values)
            if (failure !== undefined) return Effect.fail(failure)
          }
          const drops = lines.takeDrops()
          const step = Effect.succeed([lines, values] as const)
          return drops === 0 ? step : Effect.andThen(droppedLines(operation, drops, options), step)
        }
      )
    )

/** {@link lines}, each line decoded with `schema`. */
export const decode = <A, I>(
  operation: string,
  schema: Schema.Codec<A, I, never, never>,
  options?: Options
) => {
  const read = Schema.decodeUnknownResult(schema)
  return lines(operation, (json) => read(json), options)
}
