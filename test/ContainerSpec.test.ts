import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Redacted, Stream } from "effect"
import * as ContainerSpec from "../src/ContainerSpec.js"
import type { ContainerFile } from "../src/DockerEngine.js"
import * as RestartPolicy from "../src/RestartPolicy.js"

const base = { name: "web", image: "busybox:latest" } as const

/** The InvalidSpec of an input that must be refused. */
const refuse = (input: ContainerSpec.Input, options?: ContainerSpec.ValidateOptions) =>
  ContainerSpec.validate(input, options).pipe(
    Effect.flip,
    Effect.tap((error) => Effect.sync(() => assert.strictEqual(error._tag, "InvalidSpec")))
  )

describe("ContainerSpec.validate", () => {
  it.effect("fills the defaults of a minimal spec", () =>
    Effect.gen(function* () {
      const spec = yield* ContainerSpec.validate(base)
      assert.strictEqual(spec.name, "web")
      assert.strictEqual(spec.pullPolicy, "ifMissing")
      assert.strictEqual(spec.restartPolicy._tag, "Never")
      assert.strictEqual(Duration.toMillis(spec.stopTimeout), 10_000)
      assert.strictEqual(spec.logTail, 20)
      assert.deepStrictEqual(spec.files, [])
    })
  )

  it.effect("decodes durations as users write them", () =>
    Effect.gen(function* () {
      const spec = yield* ContainerSpec.validate({
        ...base,
        stopTimeout: "3 seconds",
        healthcheck: { test: ["CMD", "true"], interval: 500, timeout: Duration.seconds(2) }
      })
      assert.strictEqual(Duration.toMillis(spec.stopTimeout), 3000)
      assert.strictEqual(spec.healthcheck?.interval && Duration.toMillis(spec.healthcheck.interval), 500)
      assert.strictEqual(spec.healthcheck?.timeout && Duration.toMillis(spec.healthcheck.timeout), 2000)
    })
  )

  it.effect("accepts the image references Docker accepts", () =>
    Effect.gen(function* () {
      const valid = [
        "busybox",
        "busybox:latest",
        "library/busybox:1.36.1-musl",
        "127.0.0.1:5000/effect-docker/busybox:latest",
        "localhost/app",
        "Registry.Example.com/team/app_1__x.y-z:v2",
        "[::1]:5000/app:1",
        `busybox@sha256:${"a".repeat(64)}`,
        `ghcr.io/org/app:1.0@sha256:${"0123456789abcdef".repeat(4)}`
      ]
      for (const image of valid) {
        const spec = yield* ContainerSpec.validate({ ...base, image })
        assert.strictEqual(spec.image, image)
      }
    })
  )

  it.effect("names the image field for bad references", () =>
    Effect.gen(function* () {
      const invalid = [
        "",
        "Busybox",
        "team/App:1",
        "busybox:",
        "busybox:-x",
        "bu sybox",
        "busybox@sha256:abc",
        "-x/y",
        "a//b"
      ]
      for (const image of invalid) {
        const error = yield* refuse({ ...base, image })
        assert.strictEqual(error.field, "image", image)
      }
      const upper = yield* refuse({ ...base, image: "team/App" })
      assert.include(upper.message, "lowercase")
    })
  )

  it.effect("refuses bad component names", () =>
    Effect.gen(function* () {
      for (const name of ["", "-web", "web/1", "we b", "x".repeat(129), "ünïcode"]) {
        const error = yield* refuse({ ...base, name })
        assert.strictEqual(error.field, "name", name)
      }
    })
  )

  it.effect("refuses file paths that are relative, hold '..' or NUL, or are not normalised", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["etc/config", "absolute"],
        ["/etc/../root/.ssh/authorized_keys", ".."],
        ["/..", ".."],
        ["/etc/conf\0ig", "NUL"],
        ["/etc//config", "normalised"],
        ["/etc/./config", "normalised"],
        ["/etc/", "directory"],
        ["/", "directory"]
      ]
      for (const [path, expected] of cases) {
        const error = yield* refuse({
          ...base,
          files: [
            { path: "/ok", content: "fine" },
            { path, content: "x" }
          ]
        })
        assert.strictEqual(error.field, "files[1].path", path)
        assert.include(error.message, expected)
      }
    })
  )

  it.effect("accepts files with content, bytes, a stream, and modes", () =>
    Effect.gen(function* () {
      const spec = yield* ContainerSpec.validate({
        ...base,
        files: [
          { path: "/etc/app.conf", content: "a=1", mode: 0o600 },
          { path: "/bin/run", content: new Uint8Array([1, 2]), mode: 0o755 },
          { path: "/data/big", stream: Stream.make(new Uint8Array(3)), size: 3 }
        ]
      })
      assert.strictEqual(spec.files.length, 3)
      const error = yield* refuse({ ...base, files: [{ path: "/x", content: "", mode: 0o10000 }] })
      assert.strictEqual(error.field, "files[0].mode")
    })
  )

  it.effect("names the env variable for a bad name or value, never showing the value", () =>
    Effect.gen(function* () {
      const newline = yield* refuse({ ...base, env: { GOOD: "1", BAD: "first\nsecond-line-value" } })
      assert.strictEqual(newline.field, "env.BAD")
      assert.include(newline.message, "line break")
      assert.notInclude(`${newline.message} ${String(newline)}`, "second-line-value")
      const nul = yield* refuse({ ...base, env: { TOKEN: Redacted.make("s3cr\0t-value") } })
      assert.strictEqual(nul.field, "env.TOKEN")
      assert.notInclude(`${nul.message} ${String(nul)} ${JSON.stringify(nul)}`, "s3cr")
      const equals = yield* refuse({ ...base, env: { "A=B": "1" } })
      assert.strictEqual(equals.field, "env.A=B")
      const keyNewline = yield* refuse({ ...base, env: { "A\nB": "1" } })
      assert.include(keyNewline.message, "line break")
    })
  )

  it.effect("keeps Redacted env values out of errors, String() and JSON", () =>
    Effect.gen(function* () {
      const secret = "hunter2-very-secret"
      const spec = yield* ContainerSpec.validate({
        ...base,
        env: { PASSWORD: Redacted.make(secret), PLAIN: "x" }
      })
      assert.notInclude(JSON.stringify(spec), secret)
      assert.notInclude(String(spec), secret)
      assert.notInclude(String(spec.env?.PASSWORD), secret)
      // A wrong type beside a secret: the error is about the other field, and says nothing of the secret.
      const error = yield* refuse({
        ...base,
        env: { PASSWORD: Redacted.make(secret) },
        resources: { memoryBytes: -1 }
      })
      assert.strictEqual(error.field, "resources.memoryBytes")
      assert.notInclude(`${error.message} ${String(error)} ${JSON.stringify(error)}`, secret)
      // A Redacted holding a non-string: refused without revealing it.
      const wrongType = yield* ContainerSpec.validateUnknown({
        ...base,
        env: { PASSWORD: Redacted.make(424242) }
      }).pipe(Effect.flip)
      assert.isTrue(wrongType.field.startsWith("env.PASSWORD"), wrongType.field)
      assert.notInclude(`${wrongType.message} ${String(wrongType)}`, "424242")
    })
  )

  it.effect("refuses negative, tiny, absurd or fractional memory and bad CPU counts", () =>
    Effect.gen(function* () {
      for (const memoryBytes of [-1, 0, 1024, 6 * 1024 * 1024 - 1, 2 ** 60, 1e9 + 0.5, Number.NaN]) {
        const error = yield* refuse({ ...base, resources: { memoryBytes } })
        assert.strictEqual(error.field, "resources.memoryBytes", String(memoryBytes))
      }
      const ok = yield* ContainerSpec.validate({
        ...base,
        resources: { memoryBytes: 6 * 1024 * 1024, cpus: 0.5 }
      })
      assert.strictEqual(ok.resources?.cpus, 0.5)
      for (const cpus of [0, -1, Number.POSITIVE_INFINITY, 5000]) {
        const error = yield* refuse({ ...base, resources: { cpus } })
        assert.strictEqual(error.field, "resources.cpus", String(cpus))
      }
    })
  )

  it.effect("refuses an engine restart policy together with a supervisor one", () =>
    Effect.gen(function* () {
      const error = yield* refuse({
        ...base,
        engineRestartPolicy: "always",
        restartPolicy: RestartPolicy.onFailure({ maxRetries: 2 })
      })
      assert.strictEqual(error.field, "engineRestartPolicy")
      assert.include(error.message, "conflicts")
      // Either one alone is fine, and "no" goes with anything.
      yield* ContainerSpec.validate({ ...base, engineRestartPolicy: "unless-stopped" })
      yield* ContainerSpec.validate({
        ...base,
        engineRestartPolicy: "no",
        restartPolicy: RestartPolicy.always()
      })
    })
  )

  it.effect("refuses a bad restart policy value", () =>
    Effect.gen(function* () {
      // Counts computed at run time (a literal 0, -1 or 1.5 is already a type error).
      for (const maxRetries of [0, -1, 1.5, Number.NaN]) {
        const error = yield* refuse({ ...base, restartPolicy: RestartPolicy.onFailure({ maxRetries }) })
        assert.strictEqual(error.field, "restartPolicy.maxRetries", String(maxRetries))
      }
      const zero = yield* refuse({
        ...base,
        restartPolicy: RestartPolicy.onFailure({ maxRetries: Number("0") })
      })
      assert.include(zero.message, "1 or more")
      // No limit is written by leaving maxRetries out.
      const unlimited = yield* ContainerSpec.validate({ ...base, restartPolicy: RestartPolicy.onFailure() })
      assert.strictEqual(unlimited.restartPolicy._tag, "OnFailure")
    })
  )

  it.effect("names the field of other bad values", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [ContainerSpec.Input, string]> = [
        [{ ...base, labels: { "dev.effect-docker.app": "x" } }, "labels.dev.effect-docker.app"],
        [{ ...base, labels: { "": "x" } }, "labels."],
        [{ ...base, healthcheck: { test: [] } }, "healthcheck.test"],
        [{ ...base, healthcheck: { test: ["CMD"] } }, "healthcheck.test"],
        [{ ...base, healthcheck: { test: ["curl", "-f", "localhost"] } }, "healthcheck.test"],
        [{ ...base, healthcheck: { test: ["CMD", "true"], retries: -1 } }, "healthcheck.retries"],
        [{ ...base, healthcheck: { test: ["CMD", "true"], interval: "-1 seconds" } }, "healthcheck.interval"],
        [{ ...base, stopTimeout: "soon" as Duration.Input }, "stopTimeout"],
        [{ ...base, stopTimeout: -5 }, "stopTimeout"],
        [{ ...base, stopSignal: "kill me" }, "stopSignal"],
        [{ ...base, logTail: -1 }, "logTail"],
        [{ ...base, network: { aliases: ["ok", "not ok"] } }, "network.aliases[1]"],
        [{ ...base, readiness: { logLine: "" } }, "readiness"],
        [{ ...base, statsInterface: "" }, "statsInterface"]
      ]
      for (const [input, field] of cases) {
        const error = yield* refuse(input)
        assert.isTrue(error.field.startsWith(field), `${error.field} should name ${field}: ${error.message}`)
      }
    })
  )

  it.effect("reserves a custom label prefix", () =>
    Effect.gen(function* () {
      yield* ContainerSpec.validate({ ...base, labels: { "acme.app": "x" } })
      const error = yield* refuse({ ...base, labels: { "acme.app": "x" } }, { labelPrefix: "acme." })
      assert.strictEqual(error.field, "labels.acme.app")
    })
  )

  it("validation is an Effect failure, not a defect, for arbitrary garbage", () => {
    for (const garbage of [null, 3, "spec", [], { name: 3, image: null }, { name: "web" }]) {
      const exit = Effect.runSyncExit(ContainerSpec.validateUnknown(garbage))
      assert.isTrue(Exit.isFailure(exit) && !Exit.hasDies(exit), JSON.stringify(garbage))
    }
    const missing = Effect.runSyncExit(Effect.flip(ContainerSpec.validateUnknown({ name: "web" })))
    assert.isTrue(Exit.isSuccess(missing) && missing.value.field === "image")
  })
})

describe("ContainerSpec.toCreateOptions", () => {
  it.effect("maps a spec to the engine's create options", () =>
    Effect.gen(function* () {
      const password = Redacted.make("pw")
      const spec = yield* ContainerSpec.validate({
        ...base,
        command: ["sh", "-c", "sleep 1"],
        env: { PASSWORD: password, MODE: "prod" },
        labels: { team: "a" },
        healthcheck: {
          test: ["CMD-SHELL", "test -f /ready"],
          interval: "1 second",
          startPeriod: "250 millis",
          startInterval: "100 millis"
        },
        resources: { memoryBytes: 64 * 1024 * 1024, cpus: 1.5 },
        network: { aliases: ["frontend", "web"] },
        stopTimeout: "2500 millis",
        stopSignal: "SIGINT"
      })
      const options = ContainerSpec.toCreateOptions(spec, {
        name: "demo-1a2b-web",
        labels: { "dev.effect-docker.app": "demo" },
        network: "demo-1a2b"
      })
      assert.strictEqual(options.name, "demo-1a2b-web")
      assert.deepStrictEqual(options.cmd, ["sh", "-c", "sleep 1"])
      const passed = options.env?.PASSWORD
      assert.isTrue(Redacted.isRedacted(passed) && Redacted.value(passed) === Redacted.value(password))
      assert.deepStrictEqual(options.labels, { team: "a", "dev.effect-docker.app": "demo" })
      assert.deepStrictEqual(options.healthcheck, {
        test: ["CMD-SHELL", "test -f /ready"],
        intervalMs: 1000,
        startPeriodMs: 250,
        startIntervalMs: 100
      })
      assert.strictEqual(options.memory, 64 * 1024 * 1024)
      assert.strictEqual(options.nanoCpus, 1_500_000_000)
      assert.strictEqual(options.networkMode, "demo-1a2b")
      assert.deepStrictEqual(options.networkAliases, ["web", "frontend"])
      assert.strictEqual(options.stopTimeout, 3)
      assert.strictEqual(options.stopSignal, "SIGINT")
      assert.isFalse("restartPolicy" in options)
      assert.isFalse("entrypoint" in options)
    })
  )
})

describe("ContainerSpec.sanitizer and readinessOf", () => {
  it.effect("masks Redacted env values in log lines whatever the user's sanitizer does", () =>
    Effect.gen(function* () {
      const spec = yield* ContainerSpec.validate({
        ...base,
        env: { TOKEN: Redacted.make("tok-123456") },
        logSanitizer: (line) => line.replace("using", "with")
      })
      assert.strictEqual(ContainerSpec.sanitizer(spec)("using tok-123456 now"), "with <redacted> now")
      const throwing = yield* ContainerSpec.validate({
        ...base,
        env: { TOKEN: Redacted.make("tok-123456") },
        logSanitizer: () => {
          throw new Error("bug")
        }
      })
      assert.strictEqual(
        ContainerSpec.sanitizer(throwing)("tok-123456 password=abc"),
        "<redacted> password=<redacted>"
      )
    })
  )

  it.effect("waits for health when the spec or image has a healthcheck", () =>
    Effect.gen(function* () {
      const plain = yield* ContainerSpec.validate(base)
      assert.strictEqual(ContainerSpec.readinessOf(plain, false), "started")
      assert.strictEqual(ContainerSpec.readinessOf(plain, true), "healthy")
      const own = yield* ContainerSpec.validate({ ...base, healthcheck: { test: ["CMD", "true"] } })
      assert.strictEqual(ContainerSpec.readinessOf(own, false), "healthy")
      const disabled = yield* ContainerSpec.validate({ ...base, healthcheck: { test: ["NONE"] } })
      assert.strictEqual(ContainerSpec.readinessOf(disabled, true), "started")
      const explicit = yield* ContainerSpec.validate({ ...base, readiness: { logLine: /ready/ } })
      assert.deepStrictEqual(ContainerSpec.readinessOf(explicit, true), { logLine: /ready/ })
    })
  )
})

describe("ContainerSpec types", () => {
  it.effect(
    "accepts explicit undefined for optional fields, and its files go to the engine as they are",
    () =>
      Effect.gen(function* () {
        const maybeCommand: ReadonlyArray<string> | undefined = undefined
        const spec = yield* ContainerSpec.validate({
          ...base,
          command: maybeCommand,
          stopTimeout: undefined,
          pullPolicy: undefined,
          files: [{ path: "/a", content: "x" }]
        })
        assert.strictEqual(spec.pullPolicy, "ifMissing")
        assert.strictEqual(Duration.toSeconds(spec.stopTimeout), 10)
        const files: ReadonlyArray<ContainerFile> = spec.files
        assert.strictEqual(files[0]?.path, "/a")
        assert.isFalse("cmd" in ContainerSpec.toCreateOptions(spec, { name: "n", labels: {}, network: "x" }))
      })
  )
})
