/** Lets a Node process exit while `timer` is pending. A browser's timers are plain numbers that keep nothing alive. */
export function unrefTimer (timer: NodeJS.Timeout | number): void {
  if (typeof timer === 'object') timer.unref()
}

/** Lets pending I/O run before the caller goes on: a long loop calls it every few hundred items. */
export async function yieldToEventLoop (): Promise<void> {
  await new Promise<void>(resolve => {
    if (typeof globalThis.setImmediate === 'function') globalThis.setImmediate(resolve)
    else setTimeout(resolve, 0)
  })
}
