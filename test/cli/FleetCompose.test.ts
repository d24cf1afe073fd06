/**
 * The Compose keys and mechanisms beyond the first subset: `env_file` and `.env`, profiles,
 * several files merged, `deploy`, `scale`, `networks`, the long `depends_on`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import * as Fleet from "../../src/cli/Fleet.js"

/** Files the fleet names (`env_file`), by absolute path under /project. */
const reader =
  (files: Readonly<Record<string, string>>) =>
  (file: string): string => {
    const text = files[file]
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: "ENOENT" })
    return text
  }

const parse = (
  source: string,
  options: { env?: Fleet.Environment; files?: Readonly<Record<string, string>> } = {}
) =>
  Fleet.parse(source, {
    file: "demo.yaml",
    dir: "/project",
    env: options.env ?? {},
    readFile: reader(options.files ?? {})
  })

const ok = (source: string, options: Parameters<typeof parse>[1] = {}): Fleet.Fleet => {
  const result = parse(source, options)
  if (Result.isFailure(result)) assert.fail(`expected a fleet, got:\n${result.failure.message}`)
  return result.success
}

const problems = (source: string, options: Parameters<typeof parse>[1] = {}): ReadonlyArray<string> => {
  const result = parse(source, options)
  if (Result.isSuccess(result)) assert.fail("expected problems, the file parsed")
  return result.failure.message.split("\n")
}

const service = (fleet: Fleet.Fleet, name: string): Fleet.Service => {
  const found = fleet.services.find((s) => s.name === name)
  if (found === undefined) assert.fail(`no service ${name}`)
  return found
}

describe("env_file", () => {
  const files = {
    "/project/common.env": [
      "# shared settings",
      "export LEVEL=info",
      "NAME=app # a comment",
      "GREETING='hello $NAME'",
      'MULTI="line one',
      'line two\\tend"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the env file's own ${VAR} syntax
      "URL=http://${HOST:-localhost}:${PORT}",
      "FROM_HOST",
      "OVERRIDDEN=from common"
    ].join("\n"),
    "/project/local.env": "OVERRIDDEN=from local\nPORT=9000\n"
  }

  it("reads a string, a list and the long form; later files win, environment wins over all", () => {
    const fleet = ok(
      `services:
  a:
    image: busybox
    env_file: common.env
  b:
    image: busybox
    env_file: [common.env, local.env]
    environment:
      PORT: "1"
  c:
    image: busybox
    env_file:
      - path: ./common.env
      - path: missing.env
        required: false
`,
      { files, env: { PORT: "8080", FROM_HOST: "host" } }
    )
    assert.deepStrictEqual(service(fleet, "a").environment, {
      LEVEL: "info",
      NAME: "app",
      GREETING: "hello $NAME",
      MULTI: "line one\nline two\tend",
      URL: "http://localhost:8080",
      FROM_HOST: "host",
      OVERRIDDEN: "from common"
    })
    const b = service(fleet, "b").environment
    assert.strictEqual(b.OVERRIDDEN, "from local")
    assert.strictEqual(b.PORT, "1")
    assert.strictEqual(service(fleet, "c").environment.OVERRIDDEN, "from common")
  })

  it("a missing required file, a bad line and a bad form are problems at their lines", () => {
    assert.deepStrictEqual(
      problems(
        `services:
  a:
    image: busybox
    env_file: nope.env
  b:
    image: busybox
    env_file:
      - path: bad.env
        required: maybe
      - 42
      - { required: true }
`,
        { files: { "/project/bad.env": "OK=1\nnot a line\n" } }
      ),
      [
        "demo.yaml:4: services.a.env_file: cannot read env file nope.env: no such file",
        'demo.yaml:9: services.b.env_file[0].required: expected true or false, got "maybe"',
        "demo.yaml:10: services.b.env_file[1]: expected a string, got 42",
        'demo.yaml:11: services.b.env_file[2]: missing required key "path"',
        // The problems inside an env file name that file and its line.
        'bad.env:2: (env file): expected KEY=value, got "not a line"'
      ]
    )
    assert.deepStrictEqual(
      problems(`services:\n  a:\n    image: busybox\n    env_file: bad.env\n`, {
        files: { "/project/bad.env": "OK=1\nnot a line\nQ='open\n" }
      }),
      [
        'bad.env:2: (env file): expected KEY=value, got "not a line"',
        "bad.env:3: (env file): unterminated ' quote in Q"
      ]
    )
  })
})

describe("Fleet.load: .env beside the file", () => {
  it.effect("interpolates from .env; the process environment wins", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-dotenv-"))
      fs.writeFileSync(path.join(dir, ".env"), "TAG=1.36\nGREETING=from-dotenv\n")
      fs.writeFileSync(
        path.join(dir, "compose.yaml"),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's ${VAR} syntax
        "services:\n  web:\n    image: busybox:${TAG}\n    command: echo ${GREETING}\n"
      )
      const fleet = yield* Fleet.load(path.join(dir, "compose.yaml"), { env: { GREETING: "from-process" } })
      assert.strictEqual(fleet.services[0]?.image, "busybox:1.36")
      assert.deepStrictEqual(fleet.services[0]?.command, ["echo", "from-process"])
      fs.writeFileSync(path.join(dir, ".env"), "TAG=1.36\n=oops\n")
      const error = yield* Effect.flip(Fleet.load(path.join(dir, "compose.yaml")))
      assert.strictEqual(
        error.message,
        `${path.join(dir, ".env")}:2: (.env): expected KEY=value, got "=oops"`
      )
    })
  )
})

const selected = (fleet: Fleet.Fleet, selection: Fleet.Selection) => {
  const result = Fleet.select(fleet, selection)
  return Result.isSuccess(result)
    ? result.success.services.map((s) => `${s.name}<${s.dependsOn.map((d) => d.service).join(",")}>`)
    : result.failure.message.split("\n")
}

describe("profiles and services named on the command line", () => {
  const fleet = ok(`services:
  db:
    image: busybox
  web:
    image: busybox
    depends_on: [db]
  debug:
    image: busybox
    profiles: [debug, tools]
    depends_on:
      web: { condition: service_started }
  admin:
    image: busybox
    profiles: [admin]
    depends_on:
      debug: { condition: service_started }
  report:
    image: busybox
    depends_on:
      debug: { condition: service_started, required: false }
`)

  it("a service with profiles runs only when one is enabled; * enables all", () => {
    assert.deepStrictEqual(selected(fleet, { profiles: [], services: [] }), ["db<>", "web<db>", "report<>"])
    assert.deepStrictEqual(selected(fleet, { profiles: ["tools"], services: [] }), [
      "db<>",
      "web<db>",
      "debug<web>",
      "report<debug>"
    ])
    assert.strictEqual(selected(fleet, { profiles: ["*"], services: [] }).length, 5)
  })

  it("up SERVICE runs it and what it depends on, enabling its own profiles", () => {
    assert.deepStrictEqual(selected(fleet, { profiles: [], services: ["web"] }), ["db<>", "web<db>"])
    assert.deepStrictEqual(selected(fleet, { profiles: [], services: ["debug"] }), [
      "db<>",
      "web<db>",
      "debug<web>"
    ])
  })

  it("a required dependency whose profile is off is a problem at its line; an unknown service too", () => {
    assert.deepStrictEqual(selected(fleet, { profiles: ["admin"], services: [] }), [
      "demo.yaml:16: services.admin.depends_on.debug: debug does not run: its profiles (debug, tools) are not enabled (--profile debug, or required: false to go without it)"
    ])
    assert.deepStrictEqual(selected(fleet, { profiles: [], services: ["nope"] }), [
      "demo.yaml:0: (command line): no such service: nope (services: db, web, debug, admin, report)"
    ])
  })

  it("COMPOSE_PROFILES when no --profile is given; bad profile names are problems", () => {
    assert.deepStrictEqual(Fleet.profilesOf([], { COMPOSE_PROFILES: "a, b" }), ["a", "b"])
    assert.deepStrictEqual(Fleet.profilesOf(["c"], { COMPOSE_PROFILES: "a" }), ["c"])
    assert.deepStrictEqual(problems("services:\n  a:\n    image: busybox\n    profiles: [ok, '-no']\n"), [
      "demo.yaml:4: services.a.profiles[1]: a profile name is letters, digits, '_', '.', '-', starting with a letter or digit"
    ])
  })
})

describe("several files, merged as Compose merges", () => {
  const base = `name: shop
services:
  web:
    image: busybox:1
    command: httpd -f
    environment: { A: "1", B: "2" }
    labels: [tier=front]
    healthcheck:
      test: "true"
      interval: 5s
    depends_on: [db]
    env_file: base.env
  db:
    image: busybox
`
  const override = `services:
  web:
    command: ["sleep", "1"]
    environment:
      - B=override
      - C=3
    healthcheck:
      retries: 4
    depends_on:
      cache: { condition: service_started }
    env_file: extra.env
  cache:
    image: busybox
`
  const merged = (sources: ReadonlyArray<{ file: string; source: string }>) =>
    Fleet.parseFiles(sources, {
      dir: "/project",
      readFile: reader({ "/project/base.env": "E=base\nF=base\n", "/project/extra.env": "F=extra\n" })
    })

  it("a later file replaces scalars and commands, merges maps by key, adds services", () => {
    const result = merged([
      { file: "compose.yaml", source: base },
      { file: "compose.override.yaml", source: override }
    ])
    if (Result.isFailure(result)) assert.fail(result.failure.message)
    const fleet = result.success
    assert.deepStrictEqual(fleet.files, ["compose.yaml", "compose.override.yaml"])
    assert.strictEqual(fleet.name, "shop")
    const web = service(fleet, "web")
    assert.strictEqual(web.image, "busybox:1")
    assert.deepStrictEqual(web.command, ["sleep", "1"])
    assert.deepStrictEqual(web.environment, { E: "base", F: "extra", A: "1", B: "override", C: "3" })
    assert.deepStrictEqual(web.labels, { tier: "front" })
    assert.deepStrictEqual(web.healthcheck?.test, ["CMD-SHELL", "true"])
    assert.strictEqual(web.healthcheck?.retries, 4)
    assert.strictEqual(Duration.toMillis(web.healthcheck!.interval!), 5000)
    assert.deepStrictEqual(
      web.dependsOn.map((d) => d.service),
      ["db", "cache"]
    )
    assert.deepStrictEqual(fleet.positions.get("services.web.command"), {
      file: "compose.override.yaml",
      line: 3
    })
  })

  it("each problem names its own file and line", () => {
    const result = merged([
      { file: "compose.yaml", source: base },
      {
        file: "override.yaml",
        source: "services:\n  web:\n    healthcheck:\n      interval: soon\n  extra:\n    command: x\n"
      }
    ])
    if (Result.isSuccess(result)) assert.fail("expected problems")
    assert.deepStrictEqual(result.failure.message.split("\n"), [
      'override.yaml:4: services.web.healthcheck.interval: expected a duration like 5s, got "soon"',
      // A service only an override names still needs an image from somewhere.
      'override.yaml:5: services.extra: missing required key "image"'
    ])
  })
})

describe("Fleet.findFiles", () => {
  const exists = (present: ReadonlyArray<string>) => (file: string) => present.includes(file)
  it("-f files, else COMPOSE_FILE, else the default names with their override, looking upwards", () => {
    assert.deepStrictEqual(Fleet.findFiles(["a.yaml", "b.yaml"], { COMPOSE_FILE: "c.yaml" }, "/p"), [
      "a.yaml",
      "b.yaml"
    ])
    assert.deepStrictEqual(Fleet.findFiles([], { COMPOSE_FILE: "c.yaml:d.yaml" }, "/p"), ["c.yaml", "d.yaml"])
    assert.deepStrictEqual(
      Fleet.findFiles([], { COMPOSE_FILE: "c.yaml;d.yaml", COMPOSE_PATH_SEPARATOR: ";" }, "/p"),
      ["c.yaml", "d.yaml"]
    )
    assert.deepStrictEqual(
      Fleet.findFiles([], {}, "/p", exists(["/p/docker-compose.yml", "/p/docker-compose.override.yml"])),
      ["docker-compose.yml", "docker-compose.override.yml"]
    )
    assert.deepStrictEqual(Fleet.findFiles([], {}, "/p/sub", exists(["/p/compose.yaml", "/p/compose.yml"])), [
      "../compose.yaml"
    ])
    assert.strictEqual(Fleet.findFiles([], {}, "/p", exists([])), undefined)
  })
})

describe("deploy, scale, stop_signal", () => {
  it("replicas, resource limits and the restart policy", () => {
    const fleet = ok(`services:
  web:
    image: busybox
    stop_signal: SIGINT
    deploy:
      replicas: 3
      resources:
        limits: { cpus: "0.5", memory: 64m }
      restart_policy:
        condition: on-failure
        max_attempts: 2
        delay: 5s
        window: 30s
  worker:
    image: busybox
    scale: 2
    restart: always
    deploy:
      restart_policy: { condition: none }
  once:
    image: busybox
    deploy:
      restart_policy: { condition: any }
`)
    const web = service(fleet, "web")
    assert.strictEqual(web.replicas, 3)
    assert.strictEqual(web.cpus, 0.5)
    assert.strictEqual(web.memLimit, 64 * 1024 * 1024)
    assert.strictEqual(web.stopSignal, "SIGINT")
    assert.deepStrictEqual(web.restart, {
      _tag: "onFailure",
      maxRetries: 2,
      delay: Duration.seconds(5),
      window: Duration.seconds(30)
    })
    // `restart` wins over deploy.restart_policy, as in Compose.
    assert.deepStrictEqual(service(fleet, "worker").restart, { _tag: "always" })
    assert.strictEqual(service(fleet, "worker").replicas, 2)
    assert.deepStrictEqual(service(fleet, "once").restart, { _tag: "always" })
  })

  it("malformed and conflicting forms are problems at their lines", () => {
    assert.deepStrictEqual(
      problems(`services:
  web:
    image: busybox
    mem_limit: 32m
    scale: 2
    deploy:
      replicas: 0
      mode: global
      resources:
        limits: { memory: 64m, pids: 3 }
        reservations: { memory: 1m }
      restart_policy: { condition: sometimes, delay: soon }
  b:
    image: busybox
    scale: 2
    deploy: { replicas: 3 }
`),
      [
        "demo.yaml:7: services.web.deploy.replicas: expected a whole number >= 1, got 0",
        "demo.yaml:8: services.web.deploy.mode: unsupported key (supported here: replicas, resources, restart_policy, placement, update_config)",
        "demo.yaml:10: services.web.deploy.resources.limits.pids: unsupported key (supported here: cpus, memory)",
        "demo.yaml:10: services.web.deploy.resources.limits.memory: 67108864 here but 33554432 in services.web.mem_limit: give the memory limit once",
        "demo.yaml:11: services.web.deploy.resources.reservations: unsupported key (supported here: limits)",
        "demo.yaml:12: services.web.deploy.restart_policy.condition: expected one of none, on-failure, any",
        'demo.yaml:12: services.web.deploy.restart_policy.delay: expected a duration like 5s, got "soon"',
        "demo.yaml:16: services.b.deploy.replicas: 3 here but 2 in services.b.scale: give the number of replicas once"
      ]
    )
  })
})

describe("networks, healthcheck.start_interval, depends_on long form", () => {
  it("one network every service shares is accepted; aliases add up", () => {
    const fleet = ok(`services:
  web:
    image: busybox
    networks:
      app: { aliases: [www] }
  db:
    image: busybox
    networks: [app]
networks:
  app:
`)
    assert.deepStrictEqual(service(fleet, "web").aliases, ["www"])
    const plain = ok(`services:
  web:
    image: busybox
    networks:
      default:
        aliases: [www]
  db: { image: busybox }
networks:
  default: {}
`)
    assert.deepStrictEqual(service(plain, "web").aliases, ["www"])
  })

  it("anything that needs a second network is unsupported, and says so", () => {
    assert.deepStrictEqual(
      problems(`services:
  web:
    image: busybox
    networks: [front, back]
  db:
    image: busybox
    networks:
      back:
        ipv4_address: 10.0.0.2
  cache:
    image: busybox
    networks: [nowhere]
networks:
  front:
  back:
    driver: overlay
  unused:
`),
      [
        "demo.yaml:8: services.db.networks.back: unsupported: services on different networks (back here, front, back for web) need a second network; effect-docker puts every service on the one instance network",
        "demo.yaml:9: services.db.networks.back.ipv4_address: unsupported key (supported here: aliases)",
        'demo.yaml:12: services.cache.networks[0]: undefined network "nowhere" (declare it under the top-level networks)',
        "demo.yaml:12: services.cache.networks[0]: unsupported: services on different networks (nowhere here, front, back for web) need a second network; effect-docker puts every service on the one instance network",
        "demo.yaml:16: networks.back.driver: unsupported key (no settings are supported here)",
        'demo.yaml:17: networks.unused: unsupported: no service is on network "unused"; a network that is not every service\'s would be a second network'
      ]
    )
  })

  it("start_interval is read; depends_on takes required and restart", () => {
    const fleet = ok(`services:
  web:
    image: busybox
    healthcheck: { test: "true", start_interval: 1s }
  job:
    image: busybox
    depends_on:
      web: { condition: service_healthy, restart: true }
      gone: { condition: service_started, required: false }
`)
    assert.strictEqual(Duration.toMillis(service(fleet, "web").healthcheck!.startInterval!), 1000)
    assert.deepStrictEqual(service(fleet, "job").dependsOn, [
      { service: "web", condition: "service_healthy", required: true, restart: true }
    ])
    assert.deepStrictEqual(
      problems(`services:
  job:
    image: busybox
    healthcheck: { test: "true", start_interval: fast }
    depends_on:
      gone: { required: "perhaps" }
      missing: { required: true }
`),
      [
        'demo.yaml:4: services.job.healthcheck.start_interval: expected a duration like 5s, got "fast"',
        'demo.yaml:6: services.job.depends_on.gone.required: expected true or false, got "perhaps"',
        // Not known to be optional, so still required.
        'demo.yaml:6: services.job.depends_on.gone: unknown service "gone"',
        'demo.yaml:7: services.job.depends_on.missing: unknown service "missing"'
      ]
    )
  })

  it("privileged stays refused, as an unsupported key, never read as root on the host", () => {
    const [problem, ...rest] = problems(`services:
  web:
    image: busybox
    privileged: true
`)
    assert.deepStrictEqual(rest, [])
    assert.match(problem!, /^demo\.yaml:4: services\.web\.privileged: unsupported key \(supported here: /)
    assert.notInclude(problem!, "privileged,")
  })
})
