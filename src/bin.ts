#!/usr/bin/env node
/**
 * The `effect-docker` command: `up <fleet file>`, `ps`, `down`, `sweep` (see `src/cli/main.ts`).
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import * as Main from "./cli/main.js"

Main.program.pipe(Effect.provide(NodeServices.layer), Main.runMain)
