import { LIBRARY_FILE, PAGE_FILE } from './contract.ts'

/**
 * The light-client demo page. Everything it loads comes from the demo server (the script that
 * imports fedgate.js); the server's Content-Security-Policy allows nothing else but WebSockets to
 * 127.0.0.1.
 */
export function demoPage (federation: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedgate light client</title>
<link rel="modulepreload" href="/${LIBRARY_FILE}">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d232a; }
  h1 { font-size: 1.5rem; margin-bottom: .25rem; }
  h1 small { font-weight: normal; color: #5b6570; }
  p.lead { color: #39424c; max-width: 60rem; }
  #self { font-family: ui-monospace, monospace; font-size: .85rem; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #dde2e7; vertical-align: top; }
  th { font-weight: 600; background: #f3f5f7; }
  td.name { font-weight: 600; white-space: nowrap; }
  td.ok { color: #17613a; font-weight: 600; white-space: nowrap; }
  td.bad, p.bad { color: #a3212a; font-weight: 600; }
  td.ms { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  ol { color: #39424c; }
</style>
</head>
<body>
<h1>fedgate light client <small>running in this browser</small></h1>
<p class="lead">This page is a light client of the <b>${federation}</b> federation. It made its own node key,
got a short-lived credential for it from member light-1, and dials three nodes over WebSockets. On each
connection Noise runs first, then the membership exchange, both ways: the node checks this browser's
credential, and this browser checks the node's credential and role against its own copy of the roster.
A node that fails is refused with a reason code before any chain protocol runs.</p>
<p>This light client: <span id="self">starting…</span></p>
<table id="targets">
<thead><tr><th>node</th><th>what it is</th><th>verdict</th><th>details</th><th>time</th></tr></thead>
<tbody></tbody>
</table>
<ol id="timings"></ol>
<p id="error" class="bad"></p>
<script type="module" src="/${PAGE_FILE}"></script>
</body>
</html>
`
}
