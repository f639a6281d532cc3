import { Agent } from '../agent.ts'
import type { LabNodeFiles } from '../lab-federation.ts'
import type { Host, NetnsLab } from '../netns.ts'
import type { FlooderOps } from './flooder.ts'
import type { ProberOps } from './prober.ts'

const FLOODER = new URL('./flooder.ts', import.meta.url)
const PROBER = new URL('./prober.ts', import.meta.url)

export type Flooder = Agent<FlooderOps, { identities: number }>
export type Prober = Agent<ProberOps, { peerId: string }>

/** A flooder of `identities` stock libp2p nodes inside `host`, ready to flood. */
export async function startFlooder (lab: NetnsLab, host: Host, identities: number): Promise<Flooder> {
  return await Agent.start<FlooderOps, { identities: number }>(FLOODER, [String(identities)], [], lab.command(host))
}

/** A member's node inside `host`, ready to probe admissions. */
export async function startProber (lab: NetnsLab, host: Host, files: LabNodeFiles): Promise<Prober> {
  return await Agent.start<ProberOps, { peerId: string }>(PROBER, [files.key, files.credential, files.roster, files.dataDir], [], lab.command(host))
}
