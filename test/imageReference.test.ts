import { assert, describe, it } from "@effect/vitest"
import { normalizeReference, repositoryPath, splitReference } from "../src/internal/imageReference.js"

describe("imageReference", () => {
  it("splits a name from its tag, defaulting to latest", () => {
    assert.deepStrictEqual(splitReference("busybox:1.36"), { name: "busybox", tag: "1.36" })
    assert.deepStrictEqual(splitReference("busybox"), { name: "busybox", tag: "latest" })
    assert.deepStrictEqual(splitReference("ghcr.io/acme/app:v2"), { name: "ghcr.io/acme/app", tag: "v2" })
  })

  it("reads a registry's port as part of the name, not as a tag", () => {
    assert.deepStrictEqual(splitReference("localhost:5000/app"), {
      name: "localhost:5000/app",
      tag: "latest"
    })
    assert.deepStrictEqual(splitReference("127.0.0.1:5000/effect-docker/contract:latest"), {
      name: "127.0.0.1:5000/effect-docker/contract",
      tag: "latest"
    })
  })

  it("keeps a digest whole, as the tag a pull sends", () => {
    const digest = `sha256:${"ab".repeat(32)}`
    assert.deepStrictEqual(splitReference(`busybox@${digest}`), { name: "busybox", tag: digest })
    assert.deepStrictEqual(splitReference(`localhost:5000/app@${digest}`), {
      name: "localhost:5000/app",
      tag: digest
    })
  })

  it("normalises Docker Hub references as the engine stores them", () => {
    assert.strictEqual(normalizeReference("busybox"), "busybox:latest")
    assert.strictEqual(normalizeReference(" busybox:1.36 "), "busybox:1.36")
    assert.strictEqual(normalizeReference("docker.io/library/busybox"), "busybox:latest")
    assert.strictEqual(normalizeReference("docker.io/acme/app:1"), "acme/app:1")
    assert.strictEqual(normalizeReference("localhost:5000/app"), "localhost:5000/app:latest")
    assert.strictEqual(normalizeReference("busybox@sha256:00"), "busybox@sha256:00")
  })

  it("gives the repository path a registry serves a name under", () => {
    assert.strictEqual(repositoryPath("busybox"), "library/busybox")
    assert.strictEqual(repositoryPath("acme/app"), "acme/app")
    assert.strictEqual(repositoryPath("127.0.0.1:5000/effect-docker/contract"), "effect-docker/contract")
    assert.strictEqual(repositoryPath("localhost/app"), "app")
    assert.strictEqual(repositoryPath("ghcr.io/acme/app"), "acme/app")
  })
})
