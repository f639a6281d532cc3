import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { promisify } from 'node:util'
import { OP_TIMEOUT_MS, PING } from './echo.ts'
import type { Bench } from './variants.ts'

const run = promisify(execFile)

interface Certificates {
  readonly ca: Buffer
  readonly serverKey: Buffer
  readonly serverCert: Buffer
  readonly clientKey: Buffer
  readonly clientCert: Buffer
}

/** CA, server and client certificates (ECDSA P-256) made with the openssl CLI. */
async function certificates (dir: string): Promise<Certificates> {
  await mkdir(dir, { recursive: true })
  const openssl = async (...args: string[]): Promise<void> => { await run('openssl', args, { cwd: dir }) }
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key')
  await openssl('req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=bench-ca', '-out', 'ca.crt')
  for (const name of ['server', 'client']) {
    await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`)
    await openssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`)
    await writeFile(join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\nextendedKeyUsage=${name}Auth\n`)
    await openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`)
  }
  const read = async (name: string): Promise<Buffer> => await readFile(join(dir, name))
  return { ca: await read('ca.crt'), serverKey: await read('server.key'), serverCert: await read('server.crt'), clientKey: await read('client.key'), clientCert: await read('client.crt') }
}

/** Mutual TLS 1.3 with Node's tls: one op = a full handshake (no resumption), 4-byte request and echo, close. */
export async function mtlsBench (dir: string): Promise<Bench> {
  const certs = await certificates(dir)
  const server = tls.createServer({
    key: certs.serverKey,
    cert: certs.serverCert,
    ca: certs.ca,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    noDelay: true
  }, socket => {
    socket.on('error', () => {})
    socket.once('data', (data: Buffer) => { socket.end(data) })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('mTLS server has no port')
  const port = address.port
  // One client context, reused like a real client would; no session resumption, so every connection is a full handshake.
  const secureContext = tls.createSecureContext({ key: certs.clientKey, cert: certs.clientCert, ca: certs.ca, minVersion: 'TLSv1.3' })
  return {
    async op () {
      await new Promise<void>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'server', secureContext }, () => { socket.write(PING) })
        socket.setNoDelay(true)
        socket.setTimeout(OP_TIMEOUT_MS, () => { socket.destroy(new Error('mTLS op timed out')) })
        socket.once('data', () => { socket.end() })
        socket.once('close', hadError => { if (!hadError) resolve() })
        socket.once('error', reject)
      })
    },
    async stop () {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
