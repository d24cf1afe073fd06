import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import * as Fleet from "../../src/cli/Fleet.js"

const parse = (source: string, env: Fleet.Environment = {}) => Fleet.parse(source, { file: "demo.yaml", env })

const ok = (source: string, env: Fleet.Environment = {}): Fleet.Fleet => {
  const result = parse(source, env)
  if (Result.isFailure(result)) assert.fail(`expected a fleet, got:\n${result.failure.message}`)
  return result.success
}

/** The formatted problems, one line each, as the CLI prints them. */
const problems = (source: string, env: Fleet.Environment = {}): ReadonlyArray<string> => {
  const result = parse(source, env)
  if (Result.isSuccess(result)) assert.fail("expected problems, the file parsed")
  return result.failure.message.split("\n")
}

const service = (fleet: Fleet.Fleet, name: string): Fleet.Service => {
  const found = fleet.services.find((s) => s.name === name)
  if (found === undefined) assert.fail(`no service ${name}`)
  return found
}

describe("Fleet.parse: good files", () => {
  it("reads every supported key from YAML", () => {
    const fleet = ok(
      `
name: shop
services:
  web:
    image: busybox:latest
    command: httpd -f -p "80 80" -h /www
    entrypoint: ["/bin/sh", "-c"]
    environment:
      PORT: 8080
      DEBUG: true
      FROM_HOST:
    labels:
      - tier=front
    healthcheck:
      test: ["CMD", "wget", "-q", "http://127.0.0.1/"]
      interval: 1m30s
      timeout: 500ms
      retries: 3
      start_period: 2s
    restart: on-failure:5
    stop_grace_period: 3s
    mem_limit: 64m
    cpus: 0.5
    x-files:
      - path: /www/index.html
        content: hello
        mode: 0644
      - path: /etc/app.conf
        content: "x"
        mode: "0600"
`,
      { FROM_HOST: "host value" }
    )
    assert.strictEqual(fleet.name, "shop")
    const web = service(fleet, "web")
    assert.deepStrictEqual(web.command, ["httpd", "-f", "-p", "80 80", "-h", "/www"])
    assert.deepStrictEqual(web.entrypoint, ["/bin/sh", "-c"])
    assert.deepStrictEqual(web.environment, { PORT: "8080", DEBUG: "true", FROM_HOST: "host value" })
    assert.deepStrictEqual(web.labels, { tier: "front" })
    assert.deepStrictEqual(web.healthcheck?.test, ["CMD", "wget", "-q", "http://127.0.0.1/"])
    assert.strictEqual(Duration.toMillis(web.healthcheck!.interval!), 90_000)
    assert.strictEqual(Duration.toMillis(web.healthcheck!.timeout!), 500)
    assert.strictEqual(web.healthcheck?.retries, 3)
    assert.strictEqual(Duration.toMillis(web.healthcheck!.startPeriod!), 2000)
    assert.deepStrictEqual(web.restart, { _tag: "onFailure", maxRetries: 5 })
    assert.strictEqual(Duration.toMillis(web.stopGracePeriod!), 3000)
    assert.strictEqual(web.memLimit, 64 * 1024 * 1024)
    assert.strictEqual(web.cpus, 0.5)
    assert.deepStrictEqual(web.files, [
      { path: "/www/index.html", content: "hello", mode: 0o644 },
      { path: "/etc/app.conf", content: "x", mode: 0o600 }
    ])
    assert.strictEqual(fleet.positions.get("services.web.healthcheck.interval")?.line, 16)
  })

  it("reads JSON, and restart values as Compose does", () => {
    const fleet = ok(
      JSON.stringify({
        services: {
          a: { image: "busybox", restart: "unless-stopped", environment: ["X=1=2", "EMPTY="] },
          b: { image: "busybox", restart: "no", healthcheck: { test: "true" } },
          c: { image: "busybox", restart: "on-failure" }
        }
      })
    )
    assert.deepStrictEqual(service(fleet, "a").restart, { _tag: "always" })
    assert.deepStrictEqual(service(fleet, "a").environment, { X: "1=2", EMPTY: "" })
    assert.deepStrictEqual(service(fleet, "b").restart, { _tag: "no" })
    assert.deepStrictEqual(service(fleet, "b").healthcheck?.test, ["CMD-SHELL", "true"])
    assert.deepStrictEqual(service(fleet, "c").restart, { _tag: "onFailure", maxRetries: undefined })
  })

  it("orders services after their dependencies, keeping conditions", () => {
    const fleet = ok(`
services:
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy }
      migrate:
        condition: service_completed_successfully
  web:
    image: busybox
    depends_on: [db]
  migrate:
    image: busybox
    depends_on: [db]
  db:
    image: busybox
`)
    assert.deepStrictEqual(
      fleet.services.map((s) => s.name),
      ["db", "web", "migrate", "job"]
    )
    assert.deepStrictEqual(service(fleet, "job").dependsOn, [
      { service: "web", condition: "service_healthy", required: true, restart: false },
      { service: "migrate", condition: "service_completed_successfully", required: true, restart: false }
    ])
    assert.deepStrictEqual(service(fleet, "web").dependsOn, [
      { service: "db", condition: "service_started", required: true, restart: false }
    ])
  })

  it("interpolates variables and applies YAML merge keys", () => {
    const fleet = ok(
      `
x-common: &common
  image: busybox:\${TAG:-latest}
  restart: always
services:
  a:
    <<: *common
    command: echo $$HOME \${GREETING}
  b:
    <<: *common
    restart: "no"
`,
      { GREETING: "hi" }
    )
    assert.strictEqual(service(fleet, "a").image, "busybox:latest")
    assert.deepStrictEqual(service(fleet, "a").command, ["echo", "$HOME", "hi"])
    assert.deepStrictEqual(service(fleet, "a").restart, { _tag: "always" })
    assert.deepStrictEqual(service(fleet, "b").restart, { _tag: "no" })
  })

  it("interpolates as Compose does: nested defaults, -, :+, +, :?, ? and $$", () => {
    const fleet = ok(
      `
services:
  web:
    image: busybox:\${TAG:-\${FALLBACK_TAG:-latest}}
    environment:
      NESTED: \${UNSET:-\${NAME}}
      NESTED_TEXT: \${EMPTY:-\${NAME}-\${UNSET:-x}}
      DASH_EMPTY: "[\${EMPTY-fallback}]"
      DASH_UNSET: \${UNSET-fallback}
      PLUS: \${NAME:+\${NAME} is set}
      PLUS_EMPTY: "[\${EMPTY:+set}]"
      PLUS_SET_EMPTY: "[\${EMPTY+set}]"
      PLUS_UNSET: "[\${UNSET+set}]"
      REQUIRED: \${NAME:?name is required}
      REQUIRED_SET_EMPTY: "[\${EMPTY?must be set}]"
      LAZY: \${NAME:-\${UNSET:?never evaluated}}
      DOLLARS: $$NAME costs $$5 \${NAME}$$
`,
      { NAME: "web", EMPTY: "" }
    )
    assert.strictEqual(service(fleet, "web").image, "busybox:latest")
    assert.deepStrictEqual(service(fleet, "web").environment, {
      NESTED: "web",
      NESTED_TEXT: "web-x",
      DASH_EMPTY: "[]",
      DASH_UNSET: "fallback",
      PLUS: "web is set",
      PLUS_EMPTY: "[]",
      PLUS_SET_EMPTY: "[set]",
      PLUS_UNSET: "[]",
      REQUIRED: "web",
      REQUIRED_SET_EMPTY: "[]",
      LAZY: "web",
      DOLLARS: "$NAME costs $5 web$"
    })
  })

  it("a required variable that is missing is an error with its message, file and line", () => {
    assert.deepStrictEqual(
      problems(
        `services:
  web:
    image: busybox
    environment:
      A: \${B:?B is required for web}
      C: \${D?}
      E: \${EMPTY:?must not be empty}
      F: \${UNSET:-\${ALSO_UNSET:?nested required}}
      G: \${B:x}
      H: \${B:-unterminated
`,
        { EMPTY: "" }
      ),
      [
        "demo.yaml:5: services.web.environment.A: required variable B is missing a value: B is required for web",
        "demo.yaml:6: services.web.environment.C: required variable D is missing a value",
        "demo.yaml:7: services.web.environment.E: required variable EMPTY is missing a value: must not be empty",
        "demo.yaml:8: services.web.environment.F: required variable ALSO_UNSET is missing a value: nested required",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message quotes Compose's \${VAR} syntax
        "demo.yaml:9: services.web.environment.G: unsupported interpolation ${B:x} (use ${VAR}, ${VAR:-default} or $$ for a literal $)",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message quotes Compose's \${VAR} syntax
        "demo.yaml:10: services.web.environment.H: unsupported interpolation ${B:-unterminated (use ${VAR}, ${VAR:-default} or $$ for a literal $)"
      ]
    )
  })

  it("reads the demo fleet", () => {
    const source = fs.readFileSync(new URL("../../examples/demo.yaml", import.meta.url), "utf8")
    const fleet = ok(source)
    const names = fleet.services.map((s) => s.name)
    assert.isTrue(names.indexOf("web") < names.indexOf("job"))
    assert.deepStrictEqual(
      service(fleet, "job").dependsOn.find((d) => d.service === "web")?.condition,
      "service_healthy"
    )
  })
})

describe("Fleet.parse: each problem names the file, the line and the key path", () => {
  it("a bad duration", () => {
    assert.deepStrictEqual(
      problems(`services:
  web:
    image: busybox
    healthcheck:
      test: "true"
      interval: 5 seconds
`),
      ['demo.yaml:6: services.web.healthcheck.interval: expected a duration like 5s, got "5 seconds"']
    )
  })

  it("unsupported keys, at every level, are reported (never ignored)", () => {
    const lines = problems(`services:
  web:
    image: busybox
    sysctls: ["net.core.somaxconn=1024"]
    healthcheck:
      test: "true"
      frequency: 5s
    depends_on:
      db:
        condition: service_started
        weight: 1
  db:
    image: busybox
secrets: {}
`)
    assert.strictEqual(lines.length, 4)
    assert.match(
      lines[0]!,
      /^demo\.yaml:4: services\.web\.sysctls: unsupported key \(supported here: image, command/
    )
    assert.match(lines[1]!, /^demo\.yaml:7: services\.web\.healthcheck\.frequency: unsupported key/)
    assert.match(lines[2]!, /^demo\.yaml:11: services\.web\.depends_on\.db\.weight: unsupported key/)
    assert.match(lines[3]!, /^demo\.yaml:14: secrets: unsupported key/)
  })

  it("collects every problem in one pass, in line order", () => {
    assert.deepStrictEqual(
      problems(`services:
  web:
    command: 42
    restart: sometimes
    mem_limit: lots
    cpus: 0
    stop_grace_period: 10
  "bad name!":
    image: busybox
`),
      [
        'demo.yaml:2: services.web: missing required key "image"',
        "demo.yaml:3: services.web.command: expected a string, got 42",
        'demo.yaml:4: services.web.restart: expected no, always, unless-stopped or on-failure[:N], got "sometimes"',
        'demo.yaml:5: services.web.mem_limit: expected a size like 64m or 1g, got "lots"',
        "demo.yaml:6: services.web.cpus: expected a number of CPUs > 0 like 0.5, got 0",
        "demo.yaml:7: services.web.stop_grace_period: expected a duration like 5s, got 10",
        `demo.yaml:8: services["bad name!"]: a service name is letters, digits, '_', '.', '-', starting with a letter or digit`
      ]
    )
  })

  it("unknown dependencies and conditions", () => {
    assert.deepStrictEqual(
      problems(`services:
  job:
    image: busybox
    depends_on:
      web:
        condition: service_ready
  other:
    image: busybox
    depends_on: [ghost]
`),
      [
        "demo.yaml:6: services.job.depends_on.web.condition: expected one of service_started, service_healthy, service_completed_successfully",
        'demo.yaml:5: services.job.depends_on.web: unknown service "web"',
        'demo.yaml:9: services.other.depends_on.ghost: unknown service "ghost"'
      ].sort((a, b) => Number(a.split(":")[1]) - Number(b.split(":")[1]))
    )
  })

  it("dependency cycles", () => {
    assert.deepStrictEqual(
      problems(`services:
  a:
    image: busybox
    depends_on: [b]
  b:
    image: busybox
    depends_on: [c]
  c:
    image: busybox
    depends_on: [a]
  d:
    image: busybox
    depends_on: [d]
`),
      ["demo.yaml:13: services.d.depends_on.d: a service cannot depend on itself"]
    )
    assert.deepStrictEqual(
      problems(`services:
  a:
    image: busybox
    depends_on: [b]
  b:
    image: busybox
    depends_on: [a]
`),
      ["demo.yaml:4: services.a.depends_on.b: dependency cycle: a → b → a"]
    )
  })

  it("x-files paths and modes", () => {
    assert.deepStrictEqual(
      problems(`services:
  web:
    image: busybox
    x-files:
      - path: etc/app.conf
        content: x
      - path: /etc/../shadow
        content: x
      - path: /etc/app.conf
        content: x
        mode: 0999
      - path: /etc/ok
`),
      [
        "demo.yaml:5: services.web.x-files[0].path: expected an absolute path like /etc/app.conf",
        "demo.yaml:7: services.web.x-files[1].path: a path must not contain '..'",
        "demo.yaml:11: services.web.x-files[2].mode: expected a file mode like 0644, got 999",
        'demo.yaml:12: services.web.x-files[3]: missing required key "content"'
      ]
    )
  })

  it("duplicate keys and YAML syntax errors", () => {
    const syntax = problems(`services:
  web:
    image: busybox
    image: other
`)
    assert.strictEqual(syntax.length, 1)
    assert.strictEqual(syntax[0], "demo.yaml:4: services.web.image: duplicate key")
    const broken = problems(`services:\n  web: [unclosed\n`)
    assert.match(broken[0]!, /^demo\.yaml:\d+: \(yaml\): /)
  })

  it("an empty file, no services, a bad healthcheck test, bad interpolation", () => {
    assert.deepStrictEqual(problems(""), [
      "demo.yaml:1: (root): the file is empty: expected a mapping with a services key"
    ])
    assert.deepStrictEqual(problems("name: x\n"), ['demo.yaml:1: (root): missing required key "services"'])
    assert.deepStrictEqual(
      problems(`services:
  web:
    image: busybox
    healthcheck:
      test: [wget, -q]
    environment:
      A: \${B/x/y}
`),
      [
        'demo.yaml:5: services.web.healthcheck.test: a list test starts with "CMD", "CMD-SHELL" or "NONE"',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the message quotes Compose's \${VAR} syntax
        "demo.yaml:7: services.web.environment.A: unsupported interpolation ${B/x/y} (use ${VAR}, ${VAR:-default} or $$ for a literal $)"
      ]
    )
  })
})

describe("Fleet.load", () => {
  it.effect("a missing file is a FleetError with exit code 2", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Fleet.load("/nonexistent/fleet.yaml"))
      assert.strictEqual(error.message, "/nonexistent/fleet.yaml:0: (file): no such file")
      assert.strictEqual(error["~effect/Runtime/errorExitCode"], 2)
    })
  )
})
