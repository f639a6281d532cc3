import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

export interface FileWatch {
  close (): void
}

/**
 * Calls `onChange` once a burst of changes to `file` settles. It watches the file's folder, since an
 * atomic replace (write a temp file, rename it over) gives the file a new inode.
 */
export function watchFile (file: string, onChange: () => void, opts: { debounceMs: number, onError: (err: Error) => void }): FileWatch {
  const name = basename(file)
  let timer: NodeJS.Timeout | undefined
  const watcher: FSWatcher = watch(dirname(file), { persistent: false }, (_event, filename) => {
    if (filename !== null && filename !== name) return
    clearTimeout(timer)
    timer = setTimeout(onChange, opts.debounceMs)
  })
  watcher.on('error', opts.onError)
  return {
    close () {
      clearTimeout(timer)
      watcher.close()
    }
  }
}
