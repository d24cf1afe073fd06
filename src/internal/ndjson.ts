/**
 * Newline-delimited JSON from the engine's streaming endpoints (pull progress, stats,
 * events): bytes in, one decoded value per line out, whatever the chunk boundaries.
 *
 * @internal
 */
import { Effect, Result, Schema, Stream } from "effect"
import * as DockerError from "../DockerError.js"

interface Framing {
  readonly text: InstanceType<typeof TextDecoder>
  /** The start of a line whose end has not arrived yet. */
  partial: string
}

const newline = Uint8Array.of(0x0a)

/**
 * Splits a byte stream into lines (a line may span chunks, a chunk may hold many lines),
 * drops blank lines, parses each line as JSON and reads it with `read`. A line that is not
 * JSON or that `read` refuses fails the stream with a `Decode` error; a last line without a
 * newline counts.
 *
 * One synchronous step per chunk rather than a stage per step (`decodeText`, `splitLines`,
 * `mapEffect`): a stats stream delivers a line a second per container for as long as the
 * container runs, so what each line costs is the supervisor's steady CPU.
 */
export const lines =
  <A>(operation: string, read: (json: unknown) => Result.Result<A, unknown>) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<A, E | DockerError.DockerError, R> => {
    const readLine = (line: string): Result.Result<A, unknown> => {
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch (cause) {
        return Result.fail(cause)
      }
      return read(json)
    }
    return bytes.pipe(
      // The last line is ended by a newline of our own, so it is decoded (or fails) like the others.
      Stream.concat(Stream.succeed(newline)),
      Stream.mapAccumArrayEffect(
        (): Framing => ({ text: new TextDecoder(), partial: "" }),
        (framing, chunks) => {
          const values: Array<A> = []
          for (const chunk of chunks) {
            const text = framing.partial + framing.text.decode(chunk, { stream: true })
            let start = 0
            let end = text.indexOf("\n")
            while (end !== -1) {
              const line = text.slice(start, end)
              start = end + 1
              end = text.indexOf("\n", start)
              if (line.trim().length === 0) continue
              const value = readLine(line)
              if (Result.isFailure(value)) return Effect.fail(DockerError.decode(operation, value.failure))
              values.push(value.success)
            }
            framing.partial = text.slice(start)
          }
          return Effect.succeed([framing, values] as const)
        }
      )
    )
  }

/** {@link lines}, each line decoded with `schema`. */
export const decode = <A, I>(operation: string, schema: Schema.Codec<A, I, never, never>) =>
  lines(operation, Schema.decodeUnknownResult(schema))
