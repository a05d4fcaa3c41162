import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import OpenAI, { AzureOpenAI } from 'openai'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/index.js'

export const A_KEY = 'sk-test-anthropic-aaaa1111'
export const O_KEY = 'sk-test-openai-bbbb2222'
/** What a raw Anthropic request needs: the real API refuses one without `anthropic-version`. */
export const A_HEADERS = { 'x-api-key': A_KEY, 'anthropic-version': '2023-06-01' }

/** One simulator per test file on 127.0.0.1:0, with its faults and records cleared after each test. */
export function useSimulator(options?: SimulatorOptions): { readonly sim: Simulator } {
  const ctx = {} as { sim: Simulator }
  beforeAll(async () => {
    ctx.sim = await startSimulator(options)
  })
  afterEach(() => {
    ctx.sim.release()
    ctx.sim.reset()
  })
  afterAll(async () => {
    await ctx.sim.close()
  })
  return ctx
}

export function anthropicClient(sim: Simulator, options: { apiKey?: string; maxRetries?: number } = {}): Anthropic {
  return new Anthropic({ baseURL: sim.anthropicBaseURL, apiKey: options.apiKey ?? A_KEY, maxRetries: options.maxRetries ?? 0 })
}

export function openaiClient(sim: Simulator, options: { apiKey?: string; maxRetries?: number } = {}): OpenAI {
  return new OpenAI({ baseURL: `${sim.openaiBaseURL}/v1`, apiKey: options.apiKey ?? O_KEY, maxRetries: options.maxRetries ?? 0 })
}

/** Parses an SSE body into `{event, data}` pairs (data JSON-parsed unless it is `[DONE]`). */
export function parseSSE(text: string): { event: string | null; data: unknown }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event: string | null = null
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data.push(line.slice(6))
        else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`)
      }
      const joined = data.join('\n')
      return { event, data: joined === '[DONE]' ? joined : (JSON.parse(joined) as unknown) }
    })
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export const G_KEY = 'AIzaSy-test-gemini-cccc3333'
export const Z_KEY = 'test-azure-key-dddd4444'

/** `@google/genai` pointed at the simulator (it does not retry unless told to). */
export function geminiClient(sim: Simulator, apiKey = G_KEY): GoogleGenAI {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: sim.geminiBaseURL } })
}

export function azureClient(sim: Simulator, options: { apiKey?: string; deployment?: string; maxRetries?: number } = {}): AzureOpenAI {
  return new AzureOpenAI({
    endpoint: sim.azureBaseURL,
    apiKey: options.apiKey ?? Z_KEY,
    apiVersion: '2024-10-21',
    deployment: options.deployment ?? 'gpt-4o-prod',
    maxRetries: options.maxRetries ?? 0,
  })
}
