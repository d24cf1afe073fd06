import { assert, describe, it } from "@effect/vitest"
import * as Labels from "../src/internal/labels.js"

describe("Labels", () => {
  it("puts every key under the prefix", () => {
    const keys = Labels.keys()
    assert.strictEqual(keys.app, "dev.effect-docker.app")
    assert.strictEqual(keys.instance, "dev.effect-docker.instance")
    assert.strictEqual(keys.component, "dev.effect-docker.component")
    assert.strictEqual(keys.owner, "dev.effect-docker.owner")
    assert.strictEqual(Labels.keys("acme").app, "acme.app")
    assert.isTrue(Labels.isReserved(keys, "dev.effect-docker.anything"))
    assert.isFalse(Labels.isReserved(keys, "dev.effect-dockerish"))
  })

  it("builds container labels in which the library's win over the user's", () => {
    const keys = Labels.keys()
    const labels = Labels.containerLabels(keys, {
      app: "demo",
      instance: "1a2b",
      owner: "host/1/2",
      component: "web",
      user: { team: "a", "dev.effect-docker.app": "spoofed" }
    })
    assert.deepStrictEqual(labels, {
      team: "a",
      "dev.effect-docker.app": "demo",
      "dev.effect-docker.instance": "1a2b",
      "dev.effect-docker.owner": "host/1/2",
      "dev.effect-docker.component": "web"
    })
    assert.deepStrictEqual(Labels.selectInstance(keys, "demo", "1a2b"), {
      "dev.effect-docker.app": "demo",
      "dev.effect-docker.instance": "1a2b"
    })
    assert.deepStrictEqual(
      Labels.selectComponent(keys, "demo", "1a2b", "web")["dev.effect-docker.component"],
      "web"
    )
    assert.deepStrictEqual(Labels.selectApp(keys, "demo"), { "dev.effect-docker.app": "demo" })
  })

  it("writes the owner and reads it back", () => {
    const owner = { hostname: "build-7.example.com", pid: 4242, startedAt: 1715677920123 }
    const label = Labels.formatOwner(owner)
    assert.strictEqual(label, "build-7.example.com/4242/1715677920123")
    assert.deepStrictEqual(Labels.parseOwner(label), owner)
    for (const bad of ["", "host", "host/abc/1", "host/1", "/1/2"])
      assert.strictEqual(Labels.parseOwner(bad), undefined)
  })

  it("calls an owner gone only on this host with its pid dead or reused", () => {
    const here = {
      hostname: "h1",
      isPidAlive: (pid: number) => pid === 10,
      self: { hostname: "h1", pid: 20, startedAt: 5 }
    }
    assert.isFalse(Labels.ownerGone({ hostname: "h1", pid: 10, startedAt: 1 }, here))
    assert.isTrue(Labels.ownerGone({ hostname: "h1", pid: 11, startedAt: 1 }, here))
    // Another host: never called gone, whatever its pid.
    assert.isFalse(Labels.ownerGone({ hostname: "h2", pid: 11, startedAt: 1 }, here))
    // Our own pid: us, unless an earlier process had it.
    assert.isFalse(Labels.ownerGone({ hostname: "h1", pid: 20, startedAt: 5 }, here))
    assert.isTrue(Labels.ownerGone({ hostname: "h1", pid: 20, startedAt: 4 }, here))
  })

  it("sees this process alive and an unused pid gone", () => {
    assert.isFalse(Labels.isOwnerGone(Labels.currentOwner()))
    assert.isTrue(Labels.isPidAlive(process.pid))
    const host = Labels.thisProcess().hostname
    // Linux pids stay below 2^22.
    assert.isTrue(Labels.isOwnerGone(Labels.formatOwner({ hostname: host, pid: 2 ** 22 + 7, startedAt: 1 })))
    assert.isFalse(Labels.isOwnerGone("not an owner label"))
  })

  it("accepts an app and instance id that Docker accepts in names, and names what is wrong otherwise", () => {
    for (const app of ["demo", "Demo_2", "a", "my.app-1", "x".repeat(64)])
      assert.strictEqual(Labels.namesIssue({ app, instanceId: "1a2b3c4d" }), undefined, app)
    for (const [app, why] of [
      ["bad name!", "letters, digits"],
      ["", "letters, digits"],
      ["-leading", "starting with a letter or digit"],
      [".hidden", "starting with a letter or digit"],
      ["a/b", "letters, digits"],
      ["a=b", "letters, digits"],
      ["ünï", "letters, digits"],
      ["x".repeat(65), "64 characters"]
    ] as const) {
      const issue = Labels.namesIssue({ app, instanceId: "1a2b3c4d" })
      assert.strictEqual(issue?.field, "app", app)
      assert.include(issue?.message, why, app)
    }
    // The instance id follows a '-' in names: it may start with any name character, not with a space.
    assert.strictEqual(Labels.namesIssue({ app: "demo", instanceId: "_x.1" }), undefined)
    for (const instanceId of ["", "a b", "x".repeat(65)])
      assert.strictEqual(Labels.namesIssue({ app: "demo", instanceId })?.field, "instanceId", instanceId)
  })
})
