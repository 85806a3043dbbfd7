import type { ImageCoordinator } from "../gateway/coordinator.ts";

/** The ImageCoordinator of an image: one Durable Object per image id, reached from either Worker. */
export function coordinatorOf(env: { COORDINATOR: DurableObjectNamespace<ImageCoordinator> }, imageId: string) {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(imageId));
}
