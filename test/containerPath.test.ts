import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ContainerSpec from "../src/ContainerSpec.js"
import * as Fleet from "../src/cli/Fleet.js"
import { containerPathIssue } from "../src/internal/containerPath.js"
import * as Tar from "../src/internal/tar.js"

describe("containerPathIssue", () => {
  it("accepts absolute, normalised file paths", () => {
    for (const path of ["/etc/app.conf", "/a", "/srv/www/index.html", "/.hidden", "/a/..b/c..", "/a b/c"]) {
      assert.strictEqual(containerPathIssue(path), undefined, path)
    }
  })

  it("names the first problem, in the documented order", () => {
    const cases: ReadonlyArray<readonly [string, ReturnType<typeof containerPathIssue>]> = [
      ["/etc/a\0b", "nul"],
      ["etc\0/../", "nul"],
      ["etc/app.conf", "relative"],
      ["", "relative"],
      ["../etc/passwd", "relative"],
      ["/etc/../root/.ssh/keys", "parent"],
      ["/..", "parent"],
      ["/etc/../", "parent"],
      ["/", "directory"],
      ["/etc/", "directory"],
      ["/etc//app.conf", "notNormalised"],
      ["/etc/./app.conf", "notNormalised"],
      ["/.", "notNormalised"]
    ]
    for (const [path, issue] of cases)
      assert.strictEqual(containerPathIssue(path), issue, JSON.stringify(path))
  })

  it("is the check behind the spec, the tar writer and the fleet file, each in its own words", () =>
    Effect.gen(function* () {
      assert.strictEqual(ContainerSpec.filePathIssue, containerPathIssue)
      assert.strictEqual(
        ContainerSpec.filePathProblem("/etc//a"),
        "the path must be normalised (no '//' or '.')"
      )
      assert.strictEqual(ContainerSpec.filePathProblem("/etc/"), "the path must name a file, not a directory")
      assert.strictEqual(Fleet.containerPathProblem("/etc//a"), "expected a normalised path (/etc/a)")
      assert.strictEqual(Fleet.containerPathProblem("/etc/a\0"), "a path must not contain NUL")
      const error = yield* Effect.flip(
        Tar.validateFiles("copy", [
          { path: "/ok", content: "" },
          { path: "/srv/../etc/shadow", content: "" }
        ])
      )
      assert.strictEqual(error.reason, "BadRequest")
      assert.strictEqual(error.message, 'invalid file path "/srv/../etc/shadow": it contains `..`')
    }))
})
