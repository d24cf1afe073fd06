/**
 * The Docker Engine's model as this library hands it to you: the values the engine returns
 * (Schema-decoded, camelCase, only the fields a user needs) and the options its operations
 * take. No service and no I/O lives here: {@link DockerEngine} owns the operations, this
 * module owns what goes in and what comes out. Everything here is also exported from
 * `effect-docker/DockerEngine`, so older imports keep working.
 *
 * The definitions live in `internal/model/`, one module per Engine API group (containers,
 * images, networks and volumes, system and events, exec, swarm); this module re-exports them.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { DockerModel } from "effect-docker"
 *
 * const isRunning = (inspect: DockerModel.ContainerInspect) => inspect.state.running
 * const decodeEvent = Schema.decodeUnknownSync(DockerModel.EngineEvent)
 * ```
 *
 * @since 0.1.0
 */
export {
  type ContainerFile,
  ContainerInspect,
  ContainerRunState,
  ContainerSummary,
  type CreateContainerOptions,
  type CreatedContainer,
  type HealthcheckOptions,
  type KillContainerOptions,
  type ListContainersOptions,
  LogLine,
  type LogsOptions,
  LogTask,
  type MountOptions,
  type PortBindingOptions,
  PublishedPort,
  type RemoveContainerOptions,
  StatsSample,
  type StopContainerOptions,
  type WaitCondition,
  type WaitContainerOptions,
  WaitResult
} from "./internal/model/containers.js"
export {
  type ExecOptions,
  ExecResult
} from "./internal/model/exec.js"
export {
  ImageInspect,
  type PullImageOptions,
  PullProgress,
  RegistryAuth,
  type RemoveImageOptions
} from "./internal/model/images.js"
export {
  type ConnectNetworkOptions,
  type CreatedNetwork,
  type CreateNetworkOptions,
  type CreateVolumeOptions,
  type DisconnectNetworkOptions,
  type ListNetworksOptions,
  type ListVolumesOptions,
  NetworkInspect,
  type RemoveVolumeOptions,
  VolumeInspect
} from "./internal/model/networks.js"
export {
  type CreatedService,
  type ListNodesOptions,
  type ListServicesOptions,
  type ListTasksOptions,
  NodeSpec,
  ServiceContainerSpec,
  ServiceEndpointSpec,
  ServiceHealthcheck,
  ServiceInspect,
  type ServiceLogsOptions,
  ServiceMode,
  ServiceMount,
  ServiceNetwork,
  ServicePort,
  ServiceRestartPolicy,
  ServiceSpec,
  type ServiceSpecOptions,
  ServiceUpdateConfig,
  type ServiceWriteOptions,
  type SwarmInitOptions,
  SwarmInspect,
  type SwarmJoinOptions,
  type SwarmLeaveOptions,
  SwarmNode,
  Task,
  TaskSpec,
  type TaskState
} from "./internal/model/swarm.js"
export {
  EngineEvent,
  type EventsOptions,
  type LabelFilter,
  Version
} from "./internal/model/system.js"
