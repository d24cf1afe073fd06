import { assert, describe, it } from "@effect/vitest"
import type { PullProgress as Line } from "../src/DockerEngine.js"
import * as PullProgress from "../src/internal/pullProgress.js"

// The lines a pull of a two-layer image streams (after DockerEngine's decoding), one layer already there.
const twoLayers: ReadonlyArray<Line> = [
  { status: "Pulling from effect-docker/supervisor", id: "latest" },
  { status: "Already exists", id: "a1b2c3d4e5f6" },
  { status: "Pulling fs layer", id: "0f9e8d7c6b5a" },
  { status: "Pulling fs layer", id: "99aa88bb77cc" },
  { status: "Waiting", id: "99aa88bb77cc" },
  { status: "Downloading", id: "0f9e8d7c6b5a", current: 1_048_576, total: 4_194_304 },
  { status: "Downloading", id: "0f9e8d7c6b5a", current: 4_194_304, total: 4_194_304 },
  { status: "Verifying Checksum", id: "0f9e8d7c6b5a" },
  { status: "Download complete", id: "0f9e8d7c6b5a" },
  { status: "Downloading", id: "99aa88bb77cc", current: 500_000, total: 1_000_000 },
  { status: "Extracting", id: "0f9e8d7c6b5a", current: 32_768, total: 4_194_304 },
  { status: "Pull complete", id: "0f9e8d7c6b5a" },
  { status: "Download complete", id: "99aa88bb77cc" },
  { status: "Extracting", id: "99aa88bb77cc", current: 1_000_000, total: 1_000_000 },
  { status: "Pull complete", id: "99aa88bb77cc" },
  { status: "Digest: sha256:2f1a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081" },
  { status: "Status: Downloaded newer image for 127.0.0.1:5000/effect-docker/supervisor:latest" }
]

const summaryAfter = (count: number) =>
  PullProgress.summary(PullProgress.fromLines(twoLayers.slice(0, count)))

describe("PullProgress", () => {
  it("has no layers and no percent before the first line", () => {
    assert.deepStrictEqual(PullProgress.summary(PullProgress.empty), {
      bytesDone: 0,
      bytesTotal: 0,
      layersDone: 0,
      layersTotal: 0,
      percent: undefined
    })
  })

  it("ignores the lines about the whole image (the tag as id, Digest, Status)", () => {
    assert.deepStrictEqual(summaryAfter(1), PullProgress.summary(PullProgress.empty))
    const end = PullProgress.fromLines(twoLayers)
    assert.strictEqual(PullProgress.update(end, { status: "Digest: sha256:00" }), end)
  })

  it("counts an 'Already exists' layer as done, with no bytes and no percent", () => {
    assert.deepStrictEqual(summaryAfter(2), {
      bytesDone: 0,
      bytesTotal: 0,
      layersDone: 1,
      layersTotal: 1,
      percent: undefined
    })
  })

  it("keeps percent undefined while no total is known (layers waiting)", () => {
    const summary = summaryAfter(5)
    assert.strictEqual(summary.layersTotal, 3)
    assert.strictEqual(summary.layersDone, 1)
    assert.strictEqual(summary.percent, undefined)
  })

  it("aggregates bytes over layers as they download", () => {
    assert.deepStrictEqual(summaryAfter(6), {
      bytesDone: 1_048_576,
      bytesTotal: 4_194_304,
      layersDone: 1,
      layersTotal: 3,
      percent: 25
    })
    const both = summaryAfter(10)
    assert.strictEqual(both.bytesDone, 4_194_304 + 500_000)
    assert.strictEqual(both.bytesTotal, 5_194_304)
    assert.closeTo(both.percent ?? Number.NaN, (4_694_304 / 5_194_304) * 100, 1e-9)
  })

  it("does not count extracted bytes as downloaded, and a layer is done at 'Pull complete'", () => {
    const extracting = summaryAfter(11)
    assert.strictEqual(extracting.bytesDone, 4_194_304 + 500_000)
    assert.strictEqual(extracting.layersDone, 1)
    assert.strictEqual(summaryAfter(12).layersDone, 2)
  })

  it("ends with every layer done and 100 percent", () => {
    assert.deepStrictEqual(PullProgress.summary(PullProgress.fromLines(twoLayers)), {
      bytesDone: 5_194_304,
      bytesTotal: 5_194_304,
      layersDone: 3,
      layersTotal: 3,
      percent: 100
    })
  })

  it("never divides by a zero or absent total", () => {
    const lines: ReadonlyArray<Line> = [
      { status: "Pulling fs layer", id: "l1" },
      { status: "Downloading", id: "l1", current: 512, total: 0 },
      { status: "Downloading", id: "l1", current: 1024 }
    ]
    const summary = PullProgress.summary(PullProgress.fromLines(lines))
    assert.strictEqual(summary.bytesDone, 1024)
    assert.strictEqual(summary.bytesTotal, 0)
    assert.strictEqual(summary.percent, undefined)
  })

  it("keeps bytes done within the total and bytesDone in step for the metric", () => {
    const aggregate = PullProgress.fromLines([
      { status: "Downloading", id: "l1", current: 900, total: 1000 },
      { status: "Downloading", id: "l1", current: 5000, total: 1000 },
      { status: "Downloading", id: "l2", current: 10, total: 100 }
    ])
    const summary = PullProgress.summary(aggregate)
    assert.strictEqual(summary.bytesDone, 1010)
    assert.strictEqual(aggregate.bytesDone, 1010)
    assert.isAtMost(summary.percent ?? Number.NaN, 100)
  })

  it("an all-cached image ends with every layer done and no percent", () => {
    const summary = PullProgress.summary(
      PullProgress.fromLines([
        { status: "Pulling from library/busybox", id: "latest" },
        { status: "Already exists", id: "l1" },
        { status: "Already exists", id: "l2" }
      ])
    )
    assert.deepStrictEqual(summary, {
      bytesDone: 0,
      bytesTotal: 0,
      layersDone: 2,
      layersTotal: 2,
      percent: undefined
    })
  })
})
