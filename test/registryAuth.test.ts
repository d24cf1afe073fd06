/**
 * Registry credentials: which registry a reference names, the `X-Registry-Auth` header, the
 * Docker CLI's config (`auths`, `credHelpers`, `credsStore` through a helper program), and
 * private images on MemoryEngine, pulled by the engine and by the Supervisor. Secrets never
 * show in an error, in the recorded calls or in a state.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Redacted, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as ContainerSpec from "../src/ContainerSpec.js"
import * as DockerEngine from "../src/DockerEngine.js"
import { DockerError } from "../src/DockerError.js"
import * as RegistryAuth from "../src/internal/registryAuth.js"
import * as MemoryEngine from "../src/MemoryEngine.js"
import * as Supervisor from "../src/Supervisor.js"

const privateImage = "registry.test:5001/team/app:1"
const username = "ci"
const password = "s3cret-p4ss"

describe("registryAuth", () => {
  it("finds the registry of a reference; Docker Hub's forms are docker.io", () => {
    assert.strictEqual(
      RegistryAuth.registryHost("127.0.0.1:5001/effect-docker/private:latest"),
      "127.0.0.1:5001"
    )
    assert.strictEqual(RegistryAuth.registryHost("localhost/app"), "localhost")
    assert.strictEqual(RegistryAuth.registryHost("ghcr.io/org/app@sha256:abc"), "ghcr.io")
    for (const hub of [
      "busybox",
      "library/busybox:1",
      "org/app",
      "docker.io/library/busybox",
      "index.docker.io/org/app"
    ]) {
      assert.strictEqual(RegistryAuth.registryHost(hub), "docker.io", hub)
    }
    assert.strictEqual(RegistryAuth.serverAddress("docker.io"), "https://index.docker.io/v1/")
    assert.strictEqual(RegistryAuth.keyHost("https://index.docker.io/v1/"), "docker.io")
    assert.strictEqual(RegistryAuth.keyHost("http://127.0.0.1:5001/v2/"), "127.0.0.1:5001")
    assert.strictEqual(RegistryAuth.keyHost("ghcr.io"), "ghcr.io")
  })

  it("builds the header as base64url JSON with its padding, in the engine's field names", () => {
    const decode = (value: string) =>
      JSON.parse(Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"))
    // 60 bytes of JSON: not a multiple of 3, so the encoding is padded.
    const basic = Redacted.value(
      RegistryAuth.header({ username: "u", password: Redacted.make("p?>~") }, "127.0.0.1:5001")
    )
    assert.deepStrictEqual(decode(basic), {
      username: "u",
      password: "p?>~",
      serveraddress: "127.0.0.1:5001"
    })
    assert.match(basic, /^[A-Za-z0-9_-]+=*$/)
    assert.isTrue(basic.length % 4 === 0, "padded")
    const token = Redacted.value(
      RegistryAuth.header(
        { identityToken: Redacted.make("tok"), serverAddress: "https://x.test" },
        "docker.io"
      )
    )
    assert.deepStrictEqual(decode(token), { identitytoken: "tok", serveraddress: "https://x.test" })
    const hub = Redacted.value(
      RegistryAuth.header({ username: "u", password: Redacted.make("p") }, "docker.io")
    )
    assert.strictEqual(decode(hub).serveraddress, "https://index.docker.io/v1/")
  })

  it("reads auths entries and helper answers", () => {
    const entry = RegistryAuth.fromAuthsEntry({ auth: Buffer.from("me:pa:ss").toString("base64") })
    assert.isTrue(entry !== undefined && "username" in entry)
    if (entry !== undefined && "username" in entry) {
      assert.strictEqual(entry.username, "me")
      assert.strictEqual(Redacted.value(entry.password), "pa:ss")
    }
    const token = RegistryAuth.fromAuthsEntry({ auth: "", identitytoken: "tok" })
    assert.isTrue(
      token !== undefined && "identityToken" in token && Redacted.value(token.identityToken) === "tok"
    )
    assert.isUndefined(RegistryAuth.fromAuthsEntry({}))
    const helped = RegistryAuth.fromHelperOutput('{"ServerURL":"x","Username":"<token>","Secret":"t"}')
    assert.isTrue(helped !== undefined && "identityToken" in helped)
    assert.isUndefined(RegistryAuth.fromHelperOutput("not json"))
  })

  /** Looks `host` up in a DOCKER_CONFIG holding `config` (and, with `helper`, that helper on PATH). */
  const lookUp = (
    host: string,
    config: unknown,
    helper?: { readonly name: string; readonly script: string }
  ) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-docker-auth-"))
        Fs.writeFileSync(
          Path.join(dir, "config.json"),
          typeof config === "string" ? config : JSON.stringify(config)
        )
        const path = process.env.PATH
        if (helper !== undefined) {
          Fs.writeFileSync(Path.join(dir, `docker-credential-${helper.name}`), helper.script, { mode: 0o755 })
          process.env.PATH = `${dir}${Path.delimiter}${path ?? ""}`
        }
        return { dir, path }
      }),
      ({ dir }) =>
        RegistryAuth.fromDockerConfig(host).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { DOCKER_CONFIG: dir } })))
        ),
      ({ dir, path }) =>
        Effect.sync(() => {
          process.env.PATH = path
          Fs.rmSync(dir, { recursive: true, force: true })
        })
    )

  const echoHelper = (name: string) => ({
    name,
    // Answers with the server it was asked about as the password: the test sees what came on stdin.
    script: '#!/bin/sh\nread -r server\necho "{\\"Username\\":\\"helper\\",\\"Secret\\":\\"$server\\"}"\n'
  })

  const passwordOf = (lookup: RegistryAuth.Lookup) => {
    const auth = lookup.credential?.auth
    return auth !== undefined && "password" in auth ? Redacted.value(auth.password) : undefined
  }

  it.effect("matches auths by the registry, whatever form the key has; Docker Hub by its v1 key", () =>
    Effect.gen(function* () {
      const basic = (user: string) => ({ auth: Buffer.from(`${user}:pw-${user}`).toString("base64") })
      const config = {
        auths: {
          "https://index.docker.io/v1/": basic("hub"),
          "http://127.0.0.1:5001/v2/": basic("local"),
          "ghcr.io": basic("gh")
        }
      }
      assert.strictEqual(passwordOf(yield* lookUp("docker.io", config)), "pw-hub")
      assert.strictEqual(passwordOf(yield* lookUp("127.0.0.1:5001", config)), "pw-local")
      const found = yield* lookUp("ghcr.io", config)
      assert.strictEqual(passwordOf(found), "pw-gh")
      assert.include(found.credential?.source ?? "", "auths in ")
      assert.deepStrictEqual(yield* lookUp("quay.io", config), {})
    })
  )

  it.effect("asks credHelpers (before credsStore and auths) with the server address on stdin", () =>
    Effect.gen(function* () {
      const config = {
        credHelpers: { "ghcr.io": "effectgh" },
        credsStore: "effectstore",
        auths: { "ghcr.io": { auth: Buffer.from("a:b").toString("base64") } }
      }
      const gh = yield* lookUp("ghcr.io", config, echoHelper("effectgh"))
      assert.strictEqual(passwordOf(gh), "ghcr.io")
      assert.include(gh.credential?.source ?? "", "credHelpers")
      const hub = yield* lookUp("docker.io", { credsStore: "effectstore" }, echoHelper("effectstore"))
      assert.strictEqual(passwordOf(hub), "https://index.docker.io/v1/")
    })
  )

  it.effect(
    "a helper holding nothing is no credentials; a missing helper or a broken config is a problem",
    () =>
      Effect.gen(function* () {
        const none = {
          name: "effectnone",
          script: "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n"
        }
        assert.deepStrictEqual(yield* lookUp("ghcr.io", { credsStore: "effectnone" }, none), {})
        const missing = yield* lookUp("ghcr.io", { credsStore: "effect-no-such-helper" })
        assert.isUndefined(missing.credential)
        assert.include(missing.problem ?? "", "docker-credential-effect-no-such-helper")
        assert.include(missing.problem ?? "", "not on PATH")
        const broken = yield* lookUp("ghcr.io", "{ not json")
        assert.include(broken.problem ?? "", "config.json could not be read as JSON")
      })
  )

  it("a refused pull becomes Unauthorized, naming the registry and the source, with the secret masked", () => {
    const resolved = RegistryAuth.explicitOnly(privateImage, { username, password: Redacted.make(password) })
    const error = RegistryAuth.pullFailure(
      privateImage,
      resolved,
      new DockerError({
        reason: "ServerError",
        operation: "pullImage",
        statusCode: 500,
        message: `unauthorized: the registry saw ${password}`
      })
    )
    assert.strictEqual(error.reason, "Unauthorized")
    assert.include(
      error.message,
      "registry registry.test:5001 refused the credentials from the credentials given"
    )
    for (const shown of [error.message, String(error), JSON.stringify(error)])
      assert.notInclude(shown, password)
  })
})

describe("ContainerSpec.registryAuth", () => {
  it.effect("a password given as plain text is InvalidSpec naming the field, not showing the password", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        ContainerSpec.validateUnknown({
          name: "app",
          image: privateImage,
          registryAuth: { username, password }
        })
      )
      assert.strictEqual(error.field, "registryAuth.password")
      assert.notInclude(`${error.message} ${JSON.stringify(error)}`, password)
      const spec = yield* ContainerSpec.validate({
        name: "app",
        image: privateImage,
        registryAuth: { username, password: Redacted.make(password) }
      })
      assert.notInclude(JSON.stringify(spec), password)
    })
  )
})

describe("private images on MemoryEngine", () => {
  const memoryLayer = MemoryEngine.layer({
    images: ["busybox:latest"],
    registry: [{ reference: privateImage, layers: [1_000], auth: { username, password } }]
  })
  const pull = (auth?: DockerEngine.RegistryAuth) =>
    Effect.gen(function* () {
      const engine = yield* DockerEngine.DockerEngine
      return yield* Stream.runCollect(
        engine.pullImage(privateImage, auth === undefined ? undefined : { auth })
      )
    })

  it.effect("without credentials or with wrong ones the pull is Unauthorized; with them it lands", () =>
    Effect.gen(function* () {
      const memory = yield* MemoryEngine.MemoryEngine
      const anonymous = yield* Effect.flip(pull())
      assert.strictEqual(anonymous.reason, "Unauthorized")
      assert.include(anonymous.message, "registry registry.test:5001 wants credentials and none were given")
      const wrong = yield* Effect.flip(pull({ username, password: Redacted.make("not-it") }))
      assert.strictEqual(wrong.reason, "Unauthorized")
      assert.include(wrong.message, "registry registry.test:5001 refused the credentials")
      assert.notInclude(JSON.stringify(wrong), "not-it")
      assert.deepStrictEqual(
        yield* memory.images.pipe(Effect.map((images) => images.flatMap((i) => i.repoTags))),
        ["busybox:latest"]
      )
      const lines = yield* pull({ username, password: Redacted.make(password) })
      assert.match(lines.at(-1)?.status ?? "", /^Status: Downloaded newer image for /)
      const engine = yield* DockerEngine.DockerEngine
      assert.include((yield* engine.inspectImage(privateImage)).repoTags, privateImage)
      // The recorded calls keep the credential Redacted.
      assert.notInclude(JSON.stringify(yield* memory.calls), password)
    }).pipe(Effect.provide(memoryLayer))
  )

  it.effect(
    "the Supervisor pulls with the spec's registryAuth; a run without fails with an Unauthorized PullError",
    () =>
      Effect.gen(function* () {
        const supervisor = yield* Supervisor.make({ app: "auth", instanceId: "i1" })
        const refused = yield* supervisor
          .run({ name: "anonymous", image: privateImage })
          .pipe(Stream.runDrain, Effect.flip)
        assert.strictEqual(refused._tag, "PullError")
        assert.include(refused.message, "registry registry.test:5001 wants credentials")
        // A wrong and a right credential at once: they do not share one pull.
        const wrong = yield* supervisor
          .run({
            name: "wrong",
            image: privateImage,
            registryAuth: { username, password: Redacted.make("nope") }
          })
          .pipe(Stream.runDrain, Effect.flip, Effect.forkChild)
        const right = yield* supervisor
          .run({
            name: "right",
            image: privateImage,
            registryAuth: { username, password: Redacted.make(password) }
          })
          .pipe(
            Stream.filter((state) => state.status === "running"),
            Stream.take(1),
            Stream.runCollect,
            Effect.forkChild
          )
        yield* TestClock.adjust("1 second")
        const wrongError = yield* Fiber.join(wrong)
        assert.strictEqual(wrongError._tag, "PullError")
        assert.notInclude(`${wrongError.message} ${JSON.stringify(wrongError)}`, "nope")
        const states = yield* Fiber.join(right)
        assert.strictEqual(states[0]?.status, "running")
        assert.notInclude(JSON.stringify(states), password)
      }).pipe(Effect.scoped, Effect.provide(memoryLayer))
  )
})
