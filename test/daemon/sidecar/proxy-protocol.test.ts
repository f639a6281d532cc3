import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { proxyV2Header } from '../../../node/daemon/sidecar/index.ts'

const SIGNATURE = '0d0a0d0a000d0a515549540a'

describe('PROXY protocol v2 header', () => {
  it('IPv4: signature, version 2 PROXY, TCP over IPv4, 12 address bytes, source then destination', () => {
    const header = proxyV2Header({ ip: '192.168.0.1', port: 56324 }, { ip: '10.0.0.1', port: 443 })
    assert.equal(header.toString('hex'), `${SIGNATURE}21` + '11' + '000c' + 'c0a80001' + '0a000001' + 'dc04' + '01bb')
  })

  it('IPv6, and a mixed pair as IPv4-mapped IPv6', () => {
    const v6 = proxyV2Header({ ip: '2001:db8::1', port: 1 }, { ip: '::1', port: 2 })
    assert.equal(v6.toString('hex'), `${SIGNATURE}21` + '21' + '0024' + '20010db8000000000000000000000001' + '00000000000000000000000000000001' + '0001' + '0002')
    const mixed = proxyV2Header({ ip: '127.0.0.1', port: 1 }, { ip: '::1', port: 2 })
    assert.equal(mixed.subarray(16, 32).toString('hex'), '00000000000000000000ffff7f000001')
  })

  it('an address that is not an IP gives an UNSPEC header with no address block', () => {
    assert.equal(proxyV2Header(undefined, { ip: '10.0.0.1', port: 1 }).toString('hex'), `${SIGNATURE}21000000`)
    assert.equal(proxyV2Header({ ip: 'node.example', port: 1 }, { ip: '10.0.0.1', port: 1 }).toString('hex'), `${SIGNATURE}21000000`)
  })
})
