export { startSimulator } from './simulator.js'
export type { Fault, SimRequest, Simulator, SimulatorOptions } from './types.js'
