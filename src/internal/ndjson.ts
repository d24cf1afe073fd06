/**
 * Newline-delimited JSON from the engine's streaming endpoints (pull progress, stats,
 * events): bytes in, one decoded value per line out, whatever the chunk boundaries.
 *
 * @internal
 */
import { Effect, Schema, Stream } from "effect"
import * as DockerError from "../DockerError.js"

/**
 * Splits a byte stream into lines (a line may span chunks, a chunk may hold many lines),
 * drops blank lines, and decodes each line with `schema`. A line that is not JSON or does
 * not match fails the stream with a `Decode` error.
 */
export const decode =
  <A, I>(operation: string, schema: Schema.Codec<A, I, never, never>) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<A, E | DockerError.DockerError, R> => {
    const decodeLine = Schema.decodeUnknownEffect(Schema.fromJsonString(schema))
    return bytes.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((line) => line.trim().length > 0),
      Stream.mapEffect((line) =>
        decodeLine(line).pipe(Effect.mapError((cause) => DockerError.decode(operation, cause)))
      )
    )
  }
