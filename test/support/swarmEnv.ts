/**
 * The multi-node swarm that scripts/swarm-engines.sh runs on this machine (issue 17): where its
 * nodes are, the image every node can pull, and the guard a swarm suite awaits first. Node 1 is
 * the only manager; each node is a dockerd in a network namespace of its own, reached from the
 * test process through its unix socket. The variables `swarm-engines.sh env` prints override
 * the script's defaults.
 */
import Dockerode from "dockerode"

/** One node of the test swarm. */
export interface SwarmNode {
  /** 1 for the manager, 2.. for the workers. */
  readonly index: number
  /** The node's dockerd socket, reachable from the host's network namespace. */
  readonly socketPath: string
  /** `DOCKER_HOST` for the node's engine (`unix://` + the socket). */
  readonly host: string
  /** The node's address on the bridge eswarm0 (10.231.77.0/24), its swarm advertise address. */
  readonly address: string
  /** The node's hostname, as `docker node ls` and `node.hostname` constraints see it. */
  readonly hostname: string
}

const listFromEnv = (name: string, fallback: ReadonlyArray<string>): ReadonlyArray<string> => {
  const value = process.env[name]
  return value === undefined || value.length === 0 ? fallback : value.split(",")
}

const defaultCount = Number(process.env.EFFECT_DOCKER_SWARM_NODES ?? "3")
const socketPaths = listFromEnv(
  "EFFECT_DOCKER_SWARM_SOCKETS",
  Array.from({ length: defaultCount }, (_, i) => `/run/effect-docker-swarm/node${i + 1}.sock`)
)
const addresses = listFromEnv(
  "EFFECT_DOCKER_SWARM_ADDRESSES",
  Array.from({ length: defaultCount }, (_, i) => `10.231.77.${11 + i}`)
)

/** Every node of the test swarm, the manager first. */
export const swarmNodes: ReadonlyArray<SwarmNode> = socketPaths.map((socketPath, i) => ({
  index: i + 1,
  socketPath,
  host: `unix://${socketPath}`,
  address: addresses[i] ?? "",
  hostname: `swarm-node${i + 1}`
}))

/** The manager (node 1): services, tasks and nodes are asked of it. */
export const swarmManager: SwarmNode = swarmNodes[0] ?? {
  index: 1,
  socketPath: "/run/effect-docker-swarm/node1.sock",
  host: "unix:///run/effect-docker-swarm/node1.sock",
  address: "10.231.77.11",
  hostname: "swarm-node1"
}

/**
 * The registry as the nodes reach it: the local test registry's storage, served on the bridge
 * address (127.0.0.1 inside a node's namespace is the node's own loopback). The repositories
 * scripts/engine-env.sh pushes are there too, under this name.
 */
export const swarmRegistry = "10.231.77.1:5000"

/** An image of the local test registry by the name every swarm node pulls it by. */
export const swarmRegistryImage = (repo: string): string => `${swarmRegistry}/effect-docker/${repo}:latest`

/** The swarm's own test image (busybox plus a layer of its own), pulled on every node at start. */
export const swarmImage: string = process.env.EFFECT_DOCKER_SWARM_IMAGE ?? swarmRegistryImage("swarm")

/** Why the swarm cannot be used, or `undefined` when its manager answers with every node Ready. */
export const swarmUnavailable = async (): Promise<string | undefined> => {
  const manager = new Dockerode({ socketPath: swarmManager.socketPath, timeout: 5_000 })
  try {
    const info: {
      readonly Swarm?: { readonly LocalNodeState?: string; readonly ControlAvailable?: boolean }
    } = await manager.info()
    if (info.Swarm?.LocalNodeState !== "active" || info.Swarm.ControlAvailable !== true) {
      return `${swarmManager.host} is not a swarm manager (state ${info.Swarm?.LocalNodeState ?? "unknown"})`
    }
    const nodes = await manager.listNodes()
    const ready = nodes.filter((node) => node.Status?.State === "ready").length
    return ready >= swarmNodes.length ? undefined : `${ready} of ${swarmNodes.length} swarm nodes are ready`
  } catch (error) {
    return `the swarm manager ${swarmManager.host} does not answer: ${error instanceof Error ? error.message : String(error)}`
  }
}

/**
 * Whether the swarm suites run: `true` when the swarm answers. Without it, under `CI=true` this
 * throws (CI starts the swarm in `.ci/run`: a missing swarm is a failure there, never a skip);
 * elsewhere it says why once and returns `false`, so that the suite is skipped on a machine
 * where `scripts/swarm-engines.sh start` was not run.
 */
export const requireSwarm = async (): Promise<boolean> => {
  const reason = await swarmUnavailable()
  if (reason === undefined) return true
  const message = `the swarm suites need scripts/swarm-engines.sh start: ${reason}`
  if (process.env.CI === "true") throw new Error(message)
  process.stderr.write(`skipping swarm suite: ${message}\n`)
  return false
}
