// The aibridge demo: `pnpm demo` (or `pnpm build && node examples/demo/demo.mjs`).
//
// Starts the simulated Anthropic, OpenAI, Gemini and Azure OpenAI APIs (Azure as two resources, one key
// each) and the Express example app with a pool of keys per provider, then sends requests through the
// official SDKs while keys start failing: the primary key is rate-limited (and comes back when its
// Retry-After has passed), another is revoked, an OpenAI key runs out of quota, a Gemini key its daily
// quota (out until midnight Pacific), an Azure resource throttles (the request moves to the other
// resource), and finally every Anthropic key is out. No network, no real keys.
// Exits 0 when no request failed while a usable key remained.
import { realpathSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import Anthropic from '@anthropic-ai/sdk'
import { GoogleGenAI } from '@google/genai'
import OpenAI, { AzureOpenAI } from 'openai'
import { maskKey } from '@aibridge/core'
import { startSimulator } from '@aibridge/simulator'
import { start } from '../express/server.mjs'

/** The demo's fake keys. Only their hints (maskKey) are ever printed. */
export const DEMO_KEYS = {
  anthropic: ['sk-ant-api03-demo-Qm7vT2xLp9RkZ4wB-0001', 'sk-ant-api03-demo-Hc3nY8sDf1JqU6eK-0002', 'sk-ant-api03-demo-Wb5rG0aNt7XoP2mV-0003'],
  openai: ['sk-proj-demo-Ld4kS9qEz6CyM1hF-0001', 'sk-proj-demo-Ja8pR3uBw5TnG7cX-0002'],
  gemini: ['AIzaSy-demo-Vn2cK8wQe5RtY1uZ-0001', 'AIzaSy-demo-Bx6mJ3pLs9DfH4gA-0002'],
  // One key per Azure resource: East US and Sweden Central, each its own endpoint.
  azure: ['azure-demo-eastus-Tq4nW7yUi2Op-0001', 'azure-demo-sweden-Gh5jK1lZx8Cv-0002'],
}

const [A1, A2, A3] = DEMO_KEYS.anthropic
const [O1] = DEMO_KEYS.openai
const [G1] = DEMO_KEYS.gemini
const [Z1, Z2] = DEMO_KEYS.azure
/** How long the simulated provider tells the primary key to wait. */
const PRIMARY_RETRY_AFTER_S = 8

// Colors only on a terminal; piped output stays plain text.
const color = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code) => (s) => (color ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const bold = paint('1')
const dim = paint('2')
const red = paint('31')
const green = paint('32')
const yellow = paint('33')
const cyan = paint('36')

const out = (line = '') => process.stdout.write(line + '\n')
/** Pads to a visible width (ANSI codes take no room). */
const pad = (s, n) => s + ' '.repeat(Math.max(0, n - s.replace(/\x1b\[[0-9;]*m/g, '').length))

function seconds(ms) {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`
  const total = Math.ceil(ms / 1000)
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, '0')}s`
  return `${Math.floor(total / 3600)}h ${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}m`
}

/** Records arrive from the app's onInterception; requests are sequential, so the next one is ours. */
function recordQueue() {
  const records = []
  const waiters = []
  return {
    push(record) {
      const waiter = waiters.shift()
      if (waiter) waiter(record)
      else records.push(record)
    },
    next() {
      if (records.length > 0) return Promise.resolve(records.shift())
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record within 5 s')), 5000)
        waiters.push((r) => {
          clearTimeout(timer)
          resolve(r)
        })
      })
    },
  }
}

/** The key table: every key's hint, state and remaining cooldown. */
function keyTable(bridge) {
  const now = Date.now()
  const rows = []
  for (const [provider, keys] of Object.entries(bridge.keyStates())) {
    keys.forEach((k, i) => {
      const name = i === 0 ? pad(provider, 10) : ' '.repeat(10)
      const state = k.state === 'valid' ? green('valid') : k.state === 'temporary' ? yellow('temporary') : red('permanent')
      let detail = ''
      if (k.state !== 'valid') {
        const why = `${k.status ?? ''} ${k.reason.replace('_', ' ')}`.trim()
        const back = k.until === undefined ? 'out until reset' : `back in ${seconds(k.until - now)}`
        detail = `${pad(why, 21)} ${k.state === 'temporary' ? yellow(back) : red(back)}`
      }
      // A key with an endpoint of its own (an Azure resource) shows where it lives.
      if (k.origin) detail = `${pad(detail, 44)} ${dim(`at ${new URL(k.origin).host}`)}`
      rows.push(`     ${dim('│')} ${name} ${pad(k.hint, 12)} ${pad(state, 10)} ${detail}`.trimEnd())
    })
  }
  return rows.join('\n')
}

/** What changed in the key states, ignoring the cooldowns running down. */
const signature = (bridge) => JSON.stringify(Object.values(bridge.keyStates()).flat().map((k) => [k.hint, k.state]))

async function main() {
  const startedAt = Date.now()
  // The simulated providers accept only the demo's keys, as the real ones accept only the keys they
  // issued: a client whose placeholder key were sent upstream (BYOK) would fail here with a 401.
  const sim = await startSimulator({ validKeys: { ...DEMO_KEYS, azure: [Z1] } })
  // The second Azure resource, in another region: it issued only its own key.
  const sweden = await startSimulator({ validKeys: { azure: [Z2] } })
  const records = recordQueue()
  const app = await start({
    port: 0,
    providers: {
      anthropic: { baseURL: sim.anthropicBaseURL, keys: DEMO_KEYS.anthropic },
      openai: { baseURL: sim.openaiBaseURL, keys: DEMO_KEYS.openai },
      gemini: { baseURL: sim.geminiBaseURL, keys: DEMO_KEYS.gemini },
      // A pool that spans resources: no provider baseURL, each key brings its resource's endpoint.
      azure: {
        keys: [
          { key: Z1, baseURL: sim.azureBaseURL },
          { key: Z2, baseURL: sweden.azureBaseURL },
        ],
      },
    },
    onRecord: (r) => records.push(r),
  })
  const { bridge } = app

  // Centralized mode: the clients send no credential, so every request is served from the pool.
  // maxRetries 0: any failure the SDK sees is reported here, not retried away; a hang fails after 10 s.
  const anthropic = new Anthropic({
    baseURL: `${app.url}/ai/anthropic`,
    apiKey: null,
    authToken: null,
    defaultHeaders: { 'x-api-key': null, authorization: null },
    maxRetries: 0,
    timeout: 10_000,
  })
  const openai = new OpenAI({ baseURL: `${app.url}/ai/openai/v1`, apiKey: 'unused', defaultHeaders: { authorization: null }, maxRetries: 0, timeout: 10_000 })
  // @google/genai adds its key only when the header is absent: an empty one is no credential.
  const gemini = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: `${app.url}/ai/gemini`, headers: { 'x-goog-api-key': '' }, timeout: 10_000 } })
  const azure = new AzureOpenAI({
    endpoint: `${app.url}/ai/azure`,
    apiKey: 'unused',
    apiVersion: '2024-10-21',
    defaultHeaders: { 'api-key': null },
    maxRetries: 0,
    timeout: 10_000,
  })

  const stats = { sent: 0, served: 0, failovers: 0, failed: 0, expected: 0 }
  let lastSignature = signature(bridge)

  out(bold('aibridge demo') + dim(': an Express app with a pool of keys, the official SDKs, simulated providers'))
  out(dim('No network and no real keys: the simulator stands in for api.anthropic.com, api.openai.com,'))
  out(dim('generativelanguage.googleapis.com and two Azure OpenAI resources.'))
  out()
  out(`  simulated providers  ${sim.url}   ${dim(`second Azure resource ${sweden.url}`)}`)
  out(`  Express app          ${app.url}   ${dim('aibridge mounted at /ai')}`)
  out(`  Anthropic SDK        baseURL ${app.url}/ai/anthropic   keys ${DEMO_KEYS.anthropic.map(maskKey).join(', ')}`)
  out(`  OpenAI SDK           baseURL ${app.url}/ai/openai/v1   keys ${DEMO_KEYS.openai.map(maskKey).join(', ')}`)
  out(`  @google/genai        baseUrl ${app.url}/ai/gemini   keys ${DEMO_KEYS.gemini.map(maskKey).join(', ')}`)
  out(`  AzureOpenAI          endpoint ${app.url}/ai/azure   keys ${DEMO_KEYS.azure.map(maskKey).join(', ')} ${dim('(one per resource)')}`)
  out(dim('  The SDK clients carry no key; keys are tried primary first, and a failing key is skipped until it is usable again.'))

  const phase = (title) => {
    out()
    out(cyan(bold(`── ${title} `)) + cyan('─'.repeat(Math.max(2, 78 - title.length))))
  }

  const showKeysIfChanged = (force = false) => {
    const now = signature(bridge)
    if (!force && now === lastSignature) return
    lastSignature = now
    out(`     ${dim('┌ key states')}`)
    out(keyTable(bridge))
  }

  /**
   * Sends one request through an SDK and prints how it was served. `expect: 'exhausted'` marks the
   * one request that is supposed to find no usable key.
   */
  async function send(provider, label, call, { expect = 'ok' } = {}) {
    const n = ++stats.sent
    const t0 = Date.now()
    let reply
    let error
    try {
      reply = await call(`hello #${n}`)
    } catch (err) {
      error = err
    }
    const record = await records.next()
    const ms = Date.now() - t0
    const states = Object.fromEntries(bridge.keyStates()[provider].map((k) => [k.hint, k]))
    const last = record.keysTried.at(-1)
    const served = !error && record.outcome === 'ok'
    const trail = record.keysTried
      .map((hint) => {
        if (hint === last && served) return green(`${hint} ✓`)
        // A key that was taken out shows the status that did it; the last key, the status the client got.
        return red(`${hint} ✗ ${states[hint]?.status ?? (hint === last ? (record.status ?? '') : '')}`.trimEnd())
      })
      .join(dim(' → '))
    const failedOver = record.keysTried.length > 1

    const head = `  ${dim(pad(`#${n}`, 4))} ${pad(provider, 10)}${pad(label, 25)}`
    if (!error && expect === 'ok') {
      stats.served++
      if (failedOver) stats.failovers++
      const note = reply.note ? ` (${reply.note})` : ''
      out(`${head}${green(record.status)} by ${green(pad(record.credentialHint, 12))} ${dim(`"${reply.text}"${note}  ${ms} ms`)}`)
      if (failedOver) out(`       ${yellow('↳ failover:')} ${trail}`)
    } else if (error && expect === 'exhausted' && error.status === 429 && record.outcome === 'exhausted') {
      stats.expected++
      const retryAfter = error.headers?.get?.('retry-after')
      out(`${head}${yellow(error.status)} ${yellow(`EXPECTED: no usable key left; the SDK got ${error.constructor.name}, Retry-After: ${retryAfter}`)}`)
      out(`       ${dim('↳ tried:')} ${trail}`)
      out(`       ${dim(`"${error.error?.error?.message ?? error.message}"`)}`)
    } else {
      stats.failed++
      const what = error ? `${error.constructor.name} ${error.status ?? ''}: ${error.message}` : 'succeeded, but it was expected to find no usable key'
      out(`${head}${red(`FAILED ${what}`)}`)
      if (record.keysTried.length > 0) out(`       ${dim('↳ tried:')} ${trail}`)
    }
    showKeysIfChanged()
  }

  const anthropicCreate = async (text) => {
    const msg = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: text }] })
    return { text: msg.content[0].text }
  }
  const anthropicStream = async (text) => {
    const stream = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: text }] })
    let reply = ''
    let events = 0
    for await (const event of stream) {
      events++
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') reply += event.delta.text
    }
    return { text: reply, note: `${events} events` }
  }
  // A tool call, streamed: the tool's arguments arrive as input_json_delta events and are put together.
  const weatherTool = {
    name: 'get_weather',
    description: 'The current weather in a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  }
  const anthropicToolStream = async (text) => {
    const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64, tools: [weatherTool], messages: [{ role: 'user', content: `weather in Paris? ${text}` }] })
    let deltas = 0
    stream.on('inputJson', () => deltas++)
    const message = await stream.finalMessage()
    const call = message.content.find((block) => block.type === 'tool_use')
    return { text: call ? `${call.name}(${JSON.stringify(call.input)})` : '(no tool call)', note: `${deltas} input_json_delta events` }
  }
  const openaiCreate = async (text) => {
    const chat = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] })
    return { text: chat.choices[0].message.content }
  }
  // OpenAI and Azure OpenAI stream Chat Completions alike.
  const chatStream = (client) => async (text) => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: text }] })
    let reply = ''
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      reply += chunk.choices[0]?.delta?.content ?? ''
    }
    return { text: reply, note: `${chunks} chunks` }
  }
  const openaiStream = chatStream(openai)
  const geminiCreate = async (text) => {
    const reply = await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: text })
    return { text: reply.text }
  }
  const geminiStream = async (text) => {
    const stream = await gemini.models.generateContentStream({ model: 'gemini-2.5-flash', contents: text })
    let reply = ''
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      reply += chunk.text ?? ''
    }
    return { text: reply, note: `${chunks} chunks` }
  }
  const azureCreate = async (text) => {
    const chat = await azure.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] })
    return { text: chat.choices[0].message.content }
  }
  const azureStream = chatStream(azure)
  const pause = (ms = 800) => sleep(ms)

  try {
    phase('1. Every key healthy: the primary keys serve')
    await send('anthropic', 'messages.create', anthropicCreate)
    await send('anthropic', 'messages.create stream', anthropicStream)
    await send('anthropic', 'tool call, streamed', anthropicToolStream)
    await send('openai', 'chat.completions stream', openaiStream)
    showKeysIfChanged(true)
    await pause()

    phase(`2. ${maskKey(A1)} is rate-limited: 429 with Retry-After: ${PRIMARY_RETRY_AFTER_S}`)
    // Once: when the cooldown the provider asked for is over, the key works again.
    sim.fault(A1, { kind: 'rate_limit', retry: 'retry-after', seconds: PRIMARY_RETRY_AFTER_S }, { times: 1 })
    await send('anthropic', 'messages.create', anthropicCreate)
    await pause()
    await send('anthropic', 'messages.create stream', anthropicStream)
    out(dim(`     ${maskKey(A1)} is skipped while it cools down: not even tried`))
    await pause()

    phase(`3. ${maskKey(A2)} is revoked: 401, taken out for good`)
    sim.fault(A2, { kind: 'unauthorized' })
    await send('anthropic', 'messages.create', anthropicCreate)
    await pause()
    await send('anthropic', 'messages.create stream', anthropicStream)
    await pause()

    phase(`4. OpenAI ${maskKey(O1)} runs out of quota: 429 insufficient_quota`)
    sim.fault(O1, { kind: 'quota' })
    await send('openai', 'chat.completions', openaiCreate)
    await pause()
    await send('openai', 'chat.completions stream', openaiStream)
    await pause()

    phase(`5. Gemini ${maskKey(G1)} uses up its daily quota: 429 RESOURCE_EXHAUSTED, out until midnight Pacific`)
    sim.fault(G1, { kind: 'quota', seconds: 20 })
    await send('gemini', 'generateContent', geminiCreate)
    await pause()
    await send('gemini', 'generateContentStream', geminiStream)
    out(dim(`     Its RetryInfo said 20s, but a per-day quota only resets at midnight in Los Angeles: retrying sooner is wasted`))
    await pause()

    phase(`6. Azure: the East US resource (${maskKey(Z1)}) throttles; the request moves to Sweden Central`)
    sim.fault(Z1, { kind: 'rate_limit', retry: 'retry-after-ms', seconds: 30 })
    await send('azure', 'chat.completions', azureCreate)
    await pause()
    await send('azure', 'chat.completions stream', azureStream)
    out(dim(`     The replayed request went to ${new URL(sweden.url).host}, the key's own endpoint, body byte for byte`))
    await pause()

    phase(`7. ${maskKey(A1)}'s cooldown runs down, and it serves again`)
    for (;;) {
      const k = bridge.keyStates().anthropic[0]
      if (k.state === 'valid') break
      out(`     ${dim('│')} ${maskKey(A1)}  ${yellow('temporary')}  back in ${yellow(seconds(k.until - Date.now()))}`)
      await sleep(Math.min(1000, Math.max(50, k.until - Date.now() + 20)))
    }
    out(`     ${dim('│')} ${maskKey(A1)}  ${green('valid')}      back in rotation`)
    await send('anthropic', 'messages.create', anthropicCreate)
    await send('anthropic', 'messages.create stream', anthropicStream)
    await pause()

    phase('8. Every Anthropic key out at once (expected)')
    out(dim(`     ${maskKey(A1)} and ${maskKey(A3)} answer 429 (Retry-After 3 and 8); ${maskKey(A2)} is still revoked`))
    sim.fault(A1, { kind: 'rate_limit', retry: 'retry-after', seconds: 3 }, { times: 1 })
    sim.fault(A3, { kind: 'rate_limit', retry: 'retry-after', seconds: 8 }, { times: 1 })
    await send('anthropic', 'messages.create', anthropicCreate, { expect: 'exhausted' })
    await send('openai', 'chat.completions', openaiCreate)
  } finally {
    await app.close()
    await sim.close()
    await sweden.close()
  }

  // The providers' side: every error a key got, and none of them reached a client that had a good key.
  const upstream = [...sim.requests, ...sweden.requests]
  const upstreamErrors = upstream.filter((r) => r.status >= 400).length
  phase('Result')
  const verdict = stats.failed === 0 ? green(bold('0 failed')) : red(bold(`${stats.failed} failed`))
  out(
    `  summary: ${stats.sent} requests, ${stats.served} served (${stats.failovers} after a failover), ${verdict}, ${stats.expected} refused as expected (every key out)`,
  )
  out(dim(`  The simulated providers answered ${upstream.length} upstream requests, ${upstreamErrors} of them with an error;`))
  const took = `${((Date.now() - startedAt) / 1000).toFixed(1)} s`
  if (stats.failed === 0) out(dim(`  no client saw one while a usable key remained. ${took}.`))
  else out(red(`  ${stats.failed} request(s) failed although they were expected to succeed (see FAILED above). ${took}.`))
  return stats.failed === 0 ? 0 : 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().then(
    (code) => {
      process.exitCode = code
      // Everything is closed; this only guards against a forgotten handle keeping the demo alive.
      setTimeout(() => process.exit(code), 2000).unref()
    },
    (err) => {
      out(red(`demo error: ${err?.stack ?? err}`))
      process.exit(1)
    },
  )
}
