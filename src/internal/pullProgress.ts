/**
 * Image pull progress aggregated over layers: the engine sends one line per layer event
 * (`Pulling fs layer`, `Downloading` with current/total bytes, `Download complete`,
 * `Extracting`, `Pull complete`, `Already exists`); the state shows bytes and layers done
 * out of the totals, and a percent only when the total is known and not 0 (the seed
 * divided by a total that could be 0 or absent).
 *
 * @internal
 */
import type { PullProgress } from "../DockerModel.js"

/** Where one layer is. @internal */
export interface LayerProgress {
  /** Bytes downloaded so far. */
  readonly current: number
  /** The layer's compressed size, once the engine said it. */
  readonly total: number | undefined
  /** Extracted (`Pull complete`) or already there (`Already exists`). */
  readonly done: boolean
}

/** The aggregate of a pull's progress lines. @internal */
export interface PullAggregate {
  readonly layers: ReadonlyMap<string, LayerProgress>
  /** Bytes downloaded over all layers (what the pull-bytes metric counts). */
  readonly bytesDone: number
}

/** The `pull` field of a `pulling` state. @internal */
export interface PullSummary {
  readonly bytesDone: number
  /** Bytes known so far; layers whose size is not known yet add nothing. */
  readonly bytesTotal: number
  readonly layersDone: number
  readonly layersTotal: number
  /** 0 to 100; `undefined` while the total is unknown or 0. */
  readonly percent: number | undefined
}

/** No line seen yet. @internal */
export const empty: PullAggregate = { layers: new Map(), bytesDone: 0 }

const doneStatuses = new Set(["Pull complete", "Already exists"])
// The bytes are all there, the layer is not in place yet.
const downloadedStatuses = new Set(["Download complete", "Verifying Checksum", "Extracting"])

const isLayerLine = (line: PullProgress): line is PullProgress & { readonly id: string } =>
  // `Pulling from <repo>` carries the tag as its id: it is about the image, not a layer.
  line.id !== undefined && line.id.length > 0 && !line.status.startsWith("Pulling from")

const nextLayer = (previous: LayerProgress | undefined, line: PullProgress): LayerProgress => {
  const base: LayerProgress = previous ?? { current: 0, total: undefined, done: false }
  const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined)
  if (line.status === "Downloading") {
    const total = positive(line.total) ?? base.total
    const current = Math.max(0, line.current ?? base.current)
    return { current: total === undefined ? current : Math.min(current, total), total, done: false }
  }
  if (doneStatuses.has(line.status)) {
    // A finished download counts its full size; `Already exists` downloads nothing.
    const current = line.status === "Already exists" ? base.current : (base.total ?? base.current)
    return { current, total: base.total, done: true }
  }
  // `Extracting` reports bytes extracted, not downloaded: the download is complete by then.
  if (downloadedStatuses.has(line.status)) {
    const current = base.total ?? base.current
    return current === base.current && base.done === false
      ? base
      : { current, total: base.total, done: false }
  }
  return base
}

/**
 * Folds one progress line into the aggregate. Lines about the whole image (no layer id,
 * `Digest:`, `Status:`) leave it unchanged.
 *
 * @internal
 */
export const update = (aggregate: PullAggregate, line: PullProgress): PullAggregate => {
  if (!isLayerLine(line)) return aggregate
  const previous = aggregate.layers.get(line.id)
  const layer = nextLayer(previous, line)
  if (layer === previous) return aggregate
  const layers = new Map(aggregate.layers)
  layers.set(line.id, layer)
  return { layers, bytesDone: aggregate.bytesDone - (previous?.current ?? 0) + layer.current }
}

/**
 * Bytes and layers done out of the totals, and the percent when the total is known.
 *
 * @internal
 */
export const summary = (aggregate: PullAggregate): PullSummary => {
  let bytesTotal = 0
  let layersDone = 0
  for (const layer of aggregate.layers.values()) {
    bytesTotal += layer.total ?? 0
    if (layer.done) layersDone++
  }
  const layersTotal = aggregate.layers.size
  const percent = bytesTotal > 0 ? Math.min(100, (aggregate.bytesDone / bytesTotal) * 100) : undefined
  return { bytesDone: aggregate.bytesDone, bytesTotal, layersDone, layersTotal, percent }
}

/** The aggregate of a whole list of lines. @internal */
export const fromLines = (lines: Iterable<PullProgress>): PullAggregate => {
  let aggregate = empty
  for (const line of lines) aggregate = update(aggregate, line)
  return aggregate
}
