/**
 * Container output as the engine sends it. Without a TTY the stdout and stderr bytes are
 * multiplexed in frames: an 8-byte header (stream type 0/1/2, three zero bytes, a 4-byte
 * big-endian payload size) then the payload. One frame can hold several lines and a line
 * can span frames (and chunks), so each stream keeps its own partial line, and a frame's
 * payload is read as it arrives. With a TTY the bytes are raw stdout. A line longer than a
 * cap is given in pieces, so memory stays bounded on output without newlines.
 *
 * Pure functions over an immutable state, for `Stream.mapAccum`.
 *
 * @internal
 */

export type OutputStream = "stdout" | "stderr"

/** One complete line of one stream, without its line ending. */
export interface RawLine {
  readonly stream: OutputStream
  readonly text: string
}

/** The longest line given whole by default: 1 MiB. @internal */
export const defaultMaxLineBytes = 1024 * 1024

export interface DemuxState {
  /** Raw (TTY, or a stream found not to be framed): every byte is stdout. */
  readonly raw: boolean
  /** Bytes of a frame header not yet complete (fewer than 8). */
  readonly pending: Uint8Array
  /** The frame being read: its stream and how many of its payload bytes are still to come. */
  readonly frame: { readonly stream: OutputStream; readonly remaining: number } | undefined
  /** The unfinished last line of each stream (at most `maxLineBytes`). */
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  /** A longer line is given in pieces of at most this many bytes. */
  readonly maxLineBytes: number
}

const empty = new Uint8Array(0)
const HEADER = 8
const NEWLINE = 0x0a
const decoder = new TextDecoder()

/**
 * The state before the first byte. A line longer than `maxLineBytes` (default
 * {@link defaultMaxLineBytes}; a TTY progress bar redrawn with `\r` never sends a newline)
 * is given in pieces of at most that many bytes, cut between UTF-8 characters, so that what
 * is held stays bounded whatever the output.
 */
export const initial = (options: {
  readonly tty: boolean
  readonly maxLineBytes?: number | undefined
}): DemuxState => ({
  raw: options.tty,
  pending: empty,
  frame: undefined,
  stdout: empty,
  stderr: empty,
  // At least 4: room for any UTF-8 character.
  maxLineBytes: Math.max(4, Math.floor(options.maxLineBytes ?? defaultMaxLineBytes))
})

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a, 0)
  joined.set(b, a.length)
  return joined
}

const toText = (bytes: Uint8Array): string => {
  const text = decoder.decode(bytes)
  return text.endsWith("\r") ? text.slice(0, -1) : text
}

/** Where to cut `bytes` at most `max` bytes in: not inside a UTF-8 character (continuation bytes are 10xxxxxx). */
const cutAt = (bytes: Uint8Array, max: number): number => {
  let cut = max
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--
  return cut === 0 ? max : cut
}

/**
 * Splits complete lines off `bytes`, and pieces of at most `max` bytes off a line longer than
 * that; returns what is left of the unfinished last line (newline bytes never occur inside a
 * UTF-8 character). Pieces are counted from the start of the line, so the output does not
 * depend on how the bytes were chunked.
 */
const takeLines = (stream: OutputStream, bytes: Uint8Array, max: number, out: Array<RawLine>): Uint8Array => {
  let start = 0
  for (;;) {
    const newline = bytes.indexOf(NEWLINE, start)
    const end = newline === -1 ? bytes.length : newline
    while (end - start > max) {
      const cut = start + cutAt(bytes.subarray(start, end), max)
      out.push({ stream, text: decoder.decode(bytes.subarray(start, cut)) })
      start = cut
    }
    if (newline === -1) break
    out.push({ stream, text: toText(bytes.subarray(start, newline)) })
    start = newline + 1
  }
  // A copy: the unfinished line must not keep a whole chunk alive.
  return start === bytes.length ? empty : bytes.slice(start)
}

/** Feeds one chunk; returns the new state and the lines it completed, in order. */
export const feed = (state: DemuxState, chunk: Uint8Array): readonly [DemuxState, ReadonlyArray<RawLine>] => {
  const lines: Array<RawLine> = []
  const max = state.maxLineBytes
  if (state.raw) {
    const stdout = takeLines("stdout", concat(state.stdout, chunk), max, lines)
    return [{ ...state, stdout }, lines]
  }
  const buffer = concat(state.pending, chunk)
  let { frame, stdout, stderr } = state
  let offset = 0
  while (offset < buffer.length) {
    if (frame === undefined) {
      if (buffer.length - offset < HEADER) break
      const type = buffer[offset]!
      if (type > 2 || buffer[offset + 1] !== 0 || buffer[offset + 2] !== 0 || buffer[offset + 3] !== 0) {
        // Not a frame header: this output is not multiplexed after all; the rest is raw stdout.
        const rest = buffer.subarray(offset)
        const [rawState, rawLines] = feed(
          { ...state, raw: true, pending: empty, frame, stdout, stderr },
          rest
        )
        return [rawState, [...lines, ...rawLines]]
      }
      const size =
        ((buffer[offset + 4]! << 24) |
          (buffer[offset + 5]! << 16) |
          (buffer[offset + 6]! << 8) |
          buffer[offset + 7]!) >>>
        0
      frame = { stream: type === 2 ? "stderr" : "stdout", remaining: size }
      offset += HEADER
    }
    // The payload is read as it arrives, not once the frame is complete: a frame can be large.
    const take = Math.min(frame.remaining, buffer.length - offset)
    const payload = buffer.subarray(offset, offset + take)
    if (frame.stream === "stderr") stderr = takeLines("stderr", concat(stderr, payload), max, lines)
    else stdout = takeLines("stdout", concat(stdout, payload), max, lines)
    offset += take
    frame = take === frame.remaining ? undefined : { stream: frame.stream, remaining: frame.remaining - take }
  }
  const pending = offset === buffer.length ? empty : buffer.slice(offset)
  return [{ ...state, pending, frame, stdout, stderr }, lines]
}

/** At the end of the output: the unfinished last lines (output that did not end with a newline). */
export const flush = (state: DemuxState): ReadonlyArray<RawLine> => [
  ...(state.stdout.length > 0 ? [{ stream: "stdout" as const, text: toText(state.stdout) }] : []),
  ...(state.stderr.length > 0 ? [{ stream: "stderr" as const, text: toText(state.stderr) }] : [])
]

/** Encodes one frame (for tests and for engines that produce framed output). */
export const frame = (stream: OutputStream | "stdin", payload: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(HEADER + payload.length)
  bytes[0] = stream === "stdin" ? 0 : stream === "stdout" ? 1 : 2
  new DataView(bytes.buffer).setUint32(4, payload.length, false)
  bytes.set(payload, HEADER)
  return bytes
}
