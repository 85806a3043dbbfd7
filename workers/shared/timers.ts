/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves on the next turn of the event loop: whatever is already queued (an answer being sent) goes first. */
export const nextTurn = (): Promise<void> => sleep(0);
