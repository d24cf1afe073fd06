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
