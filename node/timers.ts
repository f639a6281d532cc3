/** Lets a Node process exit while `timer` is pending. A browser's timers are plain numbers that keep nothing alive. */
export function unrefTimer (timer: NodeJS.Timeout | number): void {
  if (typeof timer === 'object') timer.unref()
}
