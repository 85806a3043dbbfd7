import type { CoordinatorNamespace } from "./bindings.ts";

/** The ImageCoordinator of an image: one Durable Object per image id, reached from either Worker. */
export function coordinatorOf(env: { COORDINATOR: CoordinatorNamespace }, imageId: string) {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(imageId));
}
