/**
 * effect-docker: run and supervise Docker containers as Effect resources.
 *
 * @since 0.1.0
 */
export * as ContainerSpec from "./ContainerSpec.js"
export * as ContainerState from "./ContainerState.js"
export * as DockerEngine from "./DockerEngine.js"
export * as DockerError from "./DockerError.js"
export * as DockerModel from "./DockerModel.js"
export * as MemoryEngine from "./MemoryEngine.js"
export * as RestartPolicy from "./RestartPolicy.js"
export * as Supervisor from "./Supervisor.js"
