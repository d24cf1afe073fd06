import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import * as View from "../../src/cli/view.js"

const now = new Date("2026-01-01T12:00:00Z")

const state = (overrides: Partial<View.ViewState> = {}): View.ViewState => ({
  id: "abc123",
  name: "demo-1-web",
  image: "busybox:latest",
  status: "running",
  pull: undefined,
  health: "healthy",
  cpuPercent: 1.234,
  memoryUsed: 1.5 * 1024 * 1024,
  memoryLimit: 32 * 1024 * 1024,
  rxRate: 1200,
  txRate: 800,
  restartCount: 0,
  startedAt: new Date(now.getTime() - 65_000),
  exitCode: undefined,
  error: undefined,
  ...overrides
})

const screen = (rows: ReadonlyArray<View.Row>, overrides: Partial<View.Screen> = {}): View.Screen => ({
  title: "effect-docker up examples/demo.yaml",
  simulated: false,
  phase: "running",
  rows,
  messages: [],
  ...overrides
})

const plain = { width: 120, color: false, now }

describe("view: numbers", () => {
  it("bytes, rates, uptimes and progress bars as people read them", () => {
    assert.deepStrictEqual([0, 512, 1536, 12.3 * 1024 * 1024, 3 * 1024 ** 3].map(View.formatBytes), [
      "0B",
      "512B",
      "1.5KiB",
      "12.3MiB",
      "3.0GiB"
    ])
    assert.deepStrictEqual([0, 840, 1200, 3_400_000].map(View.formatRate), [
      "0b/s",
      "840b/s",
      "1.2kb/s",
      "3.4Mb/s"
    ])
    assert.deepStrictEqual([0, 45_000, 185_000, 7_380_000, 273_600_000].map(View.formatUptime), [
      "0s",
      "45s",
      "3m05s",
      "2h03m",
      "3d04h"
    ])
    assert.strictEqual(View.progressBar(50, 17), "[#####.....]  50%")
    assert.strictEqual(View.progressBar(undefined, 17), "[??????????]    ?")
    assert.strictEqual(View.progressBar(250, 17), "[##########] 100%")
  })

  it("colour only on a TTY without NO_COLOR", () => {
    assert.isTrue(View.useColor({}, true))
    assert.isFalse(View.useColor({ NO_COLOR: "1" }, true))
    assert.isTrue(View.useColor({ NO_COLOR: "" }, true))
    assert.isFalse(View.useColor({}, false))
  })
})

describe("view: the table", () => {
  it("shows every column for a running service", () => {
    const lines = View.table(screen([{ service: "web", state: state(), note: undefined }]), plain)
    assert.strictEqual(lines[0], "effect-docker up examples/demo.yaml")
    assert.match(lines[1]!, /^SERVICE\s+STATUS\s+HEALTH\s+CPU\s+MEMORY\s+RX\s+TX\s+RESTARTS\s+UPTIME$/)
    assert.match(
      lines[2]!,
      /^web\s+running\s+healthy\s+1\.23%\s+1\.5MiB \/ 32\.0MiB\s+1\.2kb\/s\s+800b\/s\s+0\s+1m05s$/
    )
  })

  it("shows the published ports, as Compose's ps does, when a service publishes one", () => {
    const address = {
      ports: [
        { containerPort: 80, protocol: "tcp" as const, hostIp: "0.0.0.0", hostPort: 8080 },
        { containerPort: 53, protocol: "udp" as const, hostIp: "::", hostPort: 5353 }
      ]
    }
    const lines = View.table(
      screen([
        { service: "web", state: state({ address }), note: undefined },
        { service: "db", state: state(), note: undefined }
      ]),
      { ...plain, width: 200 }
    )
    assert.match(lines[1]!, /\s+UPTIME\s+PORTS$/)
    assert.match(lines[2]!, /1m05s\s+0\.0\.0\.0:8080->80\/tcp, \[::\]:5353->53\/udp$/)
    assert.match(lines[3]!, /1m05s\s+-$/)
    assert.strictEqual(
      View.plainLine("web", state({ address, health: "none" })),
      "web: running, ports 0.0.0.0:8080->80/tcp, [::]:5353->53/udp"
    )
  })

  it("exit codes, restarts, notes and pull progress", () => {
    const lines = View.table(
      screen([
        {
          service: "worker",
          state: state({ status: "restarting", health: "none", restartCount: 3, exitCode: 3 }),
          note: undefined
        },
        { service: "job", state: undefined, note: View.waiting("for web (healthy)") },
        {
          service: "cache",
          state: state({
            status: "pulling",
            pull: {
              bytesDone: 2 * 1024 * 1024,
              bytesTotal: 4 * 1024 * 1024,
              layersDone: 1,
              layersTotal: 2,
              percent: 50
            }
          }),
          note: undefined
        }
      ]),
      plain
    )
    assert.match(lines[2]!, /^worker\s+restarting\s+-\s+-\s+-\s+-\s+-\s+3\s+exit 3$/)
    assert.match(lines[3]!, /^job\s+waiting\s+for web \(healthy\)$/)
    assert.match(lines[4]!, /^cache\s+pulling\s+\[#+\.+\]\s+50% 2\.0MiB\/4\.0MiB layers 1\/2$/)
  })

  it("fits the terminal width, dropping the least useful columns first", () => {
    const rows: ReadonlyArray<View.Row> = [
      { service: "a-service-with-a-very-long-name", state: state(), note: undefined },
      {
        service: "job",
        state: undefined,
        note: View.waiting("for a-service-with-a-very-long-name (healthy)")
      }
    ]
    for (const width of [120, 80, 60, 40, 24]) {
      const lines = View.table(screen(rows, { simulated: true, phase: "stopping" }), { ...plain, width })
      for (const line of lines) assert.isAtMost(View.visibleWidth(line), width, `${width}: "${line}"`)
    }
    const narrow = View.table(screen(rows), { ...plain, width: 60 })
    assert.notMatch(narrow[1]!, /\bTX\b/)
    assert.match(narrow[1]!, /UPTIME/)
  })

  it("colours health and failures, and says simulated and stopping in the title", () => {
    const lines = View.table(
      screen(
        [
          { service: "web", state: state({ health: "unhealthy" }), note: undefined },
          {
            service: "worker",
            state: state({ status: "exited", exitCode: 1, health: "none" }),
            note: { status: undefined, text: "failed for good: exit 1", tone: "bad" }
          }
        ],
        { simulated: true, phase: "stopping" }
      ),
      { ...plain, color: true }
    )
    assert.include(lines[0]!, "SIMULATED")
    assert.include(lines[0]!, "stopping")
    assert.include(lines[2]!, "\x1b[31munhealthy")
    assert.include(lines[3]!, "\x1b[31mexited")
    assert.include(lines[3]!, "\x1b[31mfailed for good: exit 1")
    const noColor = View.table(
      screen([{ service: "web", state: state({ health: "unhealthy" }), note: undefined }]),
      plain
    )
    for (const line of noColor) assert.notInclude(line, "\x1b[")
  })

  it("redraws in place over the previous frame", () => {
    assert.strictEqual(View.redraw(0, ["a", "b"]), "\x1b[2Ka\n\x1b[2Kb\n\x1b[J")
    assert.strictEqual(View.redraw(2, ["c"]), "\x1b[2F\x1b[2Kc\n\x1b[J")
  })
})

describe("view: plain lines and NDJSON", () => {
  it("one line per significant change, not per stats sample", () => {
    const a = state({ health: "starting" })
    const b = state({ health: "starting", cpuPercent: 50, memoryUsed: 1 })
    const c = state({ health: "healthy" })
    assert.strictEqual(View.significance(a), View.significance(b))
    assert.notStrictEqual(View.significance(b), View.significance(c))
    assert.strictEqual(View.plainLine("web", a), "web: running, health starting")
    assert.strictEqual(
      View.plainLine(
        "worker",
        state({ status: "exited", health: "none", exitCode: 3, restartCount: 2, error: "lost\nmore" })
      ),
      "worker: exited, restarts 2, exit 3, error: lost more"
    )
  })

  it("NDJSON carries the state, ISO dates, and never a Redacted value", () => {
    const withSecret = { ...state(), env: { TOKEN: Redacted.make("s3cret") } }
    const line = View.ndjson("web", withSecret, { simulated: true })
    assert.notInclude(line, "s3cret")
    assert.notInclude(line, "\n")
    const parsed: unknown = JSON.parse(line)
    assert.deepInclude(parsed, {
      service: "web",
      simulated: true,
      status: "running",
      health: "healthy",
      startedAt: "2026-01-01T11:58:55.000Z",
      env: { TOKEN: "<redacted>" }
    })
    assert.notProperty(parsed, "exitCode")
  })
})
