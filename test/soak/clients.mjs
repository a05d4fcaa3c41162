// One soak request, as an ordinary client makes it (undici), and what that client saw, in the terms of
// the bridge's records: the status, the upstream request id when the answer came from the provider,
// and the outcome it amounts to.

/** The three APIs the soak calls, with a body that carries the request's tag (the simulator echoes it). */
const CALLS = [
  {
    provider: 'anthropic',
    path: '/anthropic/v1/messages',
    headers: { 'anthropic-version': '2023-06-01' },
    body: (tag, stream) => ({ model: 'claude-sonnet-4-6', max_tokens: 64, stream, messages: [{ role: 'user', content: `soak ${tag}` }] }),
    done: 'event: message_stop',
  },
  {
    provider: 'openai',
    path: '/openai/v1/chat/completions',
    headers: {},
    body: (tag, stream) => ({ model: 'gpt-4.1-mini', stream, messages: [{ role: 'user', content: `soak ${tag}` }] }),
    done: 'data: [DONE]',
  },
  {
    provider: 'openai',
    path: '/openai/v1/responses',
    headers: {},
    body: (tag, stream) => ({ model: 'gpt-4.1-mini', stream, input: `soak ${tag}` }),
    done: 'event: response.completed',
  },
]

/** What a bridge's own error message says happened, as the record's outcome would name it. */
function bridgeOutcome(status, message) {
  if (/no usable key|rate-limited|out of credit|failed authentication/.test(message)) return 'exhausted'
  if (status === 503) return 'rejected'
  if (status === 504) return 'timeout'
  if (status === 500) return 'internal_error'
  return 'transport_error'
}

function errorMessage(text) {
  try {
    const body = JSON.parse(text)
    return body?.error?.message ?? body?.message ?? ''
  } catch {
    return ''
  }
}

/**
 * The last SSE event's error, when the stream ended with one: `own` when aibridge wrote it (a broken
 * stream), else the provider's (`type`: its error type or code).
 */
function closingError(text) {
  const events = text.trimEnd().split(/\n\n/)
  const data = /(?:^|\n)data: (.*)$/.exec(events.at(-1) ?? '')?.[1]
  if (!data) return undefined
  try {
    const body = JSON.parse(data)
    const error = body.error ?? (body.type === 'error' ? body : undefined) ?? body.response?.error
    if (!error) return undefined
    const message = error.message ?? body.message ?? ''
    return { own: /^aibridge: /.test(message), type: error.type ?? error.code ?? body.code }
  } catch {
    return undefined
  }
}

/**
 * Makes one request to `mount` and resolves with what the client saw:
 * { tag, mount, provider, byok, stream, status (null if no answer came), requestId, seen, outcome,
 *   keyFaultSeen, bridgeMessage, text }. `seen` is 'answer' | 'aborted' | 'broken'; `outcome` is the
 * record outcome it stands for.
 */
export async function oneRequest({ pool, mount, prefix, tag, rand, byokKey, scanner }) {
  const call = CALLS[Math.floor(rand() * CALLS.length)]
  const mode = rand()
  const stream = mode < 0.45
  // One in five leaves early: before the answer, or once the first bytes have come.
  const abortAfterMs = mode > 0.8 ? Math.floor(rand() * 80) : undefined
  const abortOnFirstChunk = mode > 0.8 && rand() < 0.5
  const byok = byokKey !== undefined && rand() < 0.05
  const headers = { 'content-type': 'application/json', ...call.headers }
  if (byok) Object.assign(headers, call.provider === 'anthropic' ? { 'x-api-key': byokKey } : { authorization: `Bearer ${byokKey}` })
  const obs = { tag, mount, provider: call.provider, byok, stream, status: null, requestId: null, seen: 'answer', outcome: 'ok', keyFaultSeen: false, text: '' }
  const controller = new AbortController()
  const timer = abortAfterMs !== undefined && !abortOnFirstChunk ? setTimeout(() => controller.abort(), abortAfterMs) : undefined
  try {
    const res = await pool.request({ path: prefix + call.path, method: 'POST', headers, body: JSON.stringify(call.body(tag, stream)), signal: controller.signal })
    obs.status = res.statusCode
    obs.requestId = res.headers['request-id'] ?? res.headers['x-request-id'] ?? null
    scanner.scan(JSON.stringify(res.headers), `response headers (${mount})`)
    const chunks = []
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk)
        if (abortOnFirstChunk) controller.abort()
      }
    } catch (err) {
      obs.seen = controller.signal.aborted ? 'aborted' : 'broken'
      obs.error = err?.code ?? err?.name
    }
    obs.text = Buffer.concat(chunks).toString('utf8')
    scanner.scan(obs.text, `response body (${mount})`)
  } catch (err) {
    obs.seen = controller.signal.aborted ? 'aborted' : 'broken'
    obs.error = err?.code ?? err?.name
  } finally {
    clearTimeout(timer)
  }

  if (obs.seen === 'aborted') obs.outcome = 'client_aborted'
  else if (obs.seen === 'broken') obs.outcome = 'truncated'
  else if (obs.status >= 400 && obs.requestId === null) {
    obs.bridgeMessage = errorMessage(obs.text)
    obs.outcome = bridgeOutcome(obs.status, obs.bridgeMessage)
  } else if (obs.status >= 400) {
    obs.outcome = 'upstream_error'
    // A key's fault in the provider's own words, relayed: the bridge should have failed over.
    obs.keyFaultSeen = [401, 402, 403, 429].includes(obs.status) || /credit balance|insufficient_quota/.test(obs.text)
  } else if (stream) {
    const closing = closingError(obs.text)
    if (closing?.own) obs.outcome = 'truncated'
    else if (closing) {
      obs.providerError = String(closing.type)
      obs.keyFaultSeen = /rate_limit|billing|quota|authentication|permission|invalid_api_key/.test(obs.providerError)
    }
    else if (!obs.text.includes(call.done)) obs.outcome = 'incomplete'
  }
  // The simulator echoes the tag: an answer meant for another request would not carry it.
  obs.crossed = obs.seen === 'answer' && obs.status === 200 && obs.outcome === 'ok' && obs.providerError === undefined && !obs.text.includes(tag)
  obs.text = ''
  return obs
}
