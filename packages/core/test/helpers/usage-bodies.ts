/**
 * Response bodies shaped like the providers' own (field order, whitespace and line endings as they
 * send them), with the usage each one reports, for the usage reader's tests.
 */
import type { TokenUsage } from '../../src/index.js'

export interface UsageCase {
  name: string
  type: string
  path: string
  contentType: string
  body: string
  model: string | null
  usage: TokenUsage | null
}

const usage = (inputTokens: number | null, outputTokens: number | null, cacheReadTokens: number | null, cacheWriteTokens: number | null): TokenUsage => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
})

const sse = (events: Array<[string | null, unknown]>, eol = '\n'): string =>
  events.map(([event, data]) => `${event ? `event: ${event}${eol}` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}${eol}${eol}`).join('')

// ---- Anthropic Messages ----------------------------------------------------------------------

const anthropicJson = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  // A tool input that itself has a "usage" object: the top-level usage comes after it and wins.
  content: [
    { type: 'text', text: 'I will record that. The text mentions "usage": {"input_tokens": 999} and "model": "fake".' },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'log', input: { usage: { input_tokens: 5, output_tokens: 5 }, model: 'inner' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: {
    input_tokens: 2095,
    cache_creation_input_tokens: 1024,
    cache_read_input_tokens: 4096,
    cache_creation: { ephemeral_5m_input_tokens: 1024, ephemeral_1h_input_tokens: 0 },
    output_tokens: 503,
    service_tier: 'standard',
  },
}

function anthropicStream(delta: Record<string, number>): string {
  return sse([
    [
      'message_start',
      {
        type: 'message_start',
        message: {
          id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
          type: 'message',
          role: 'assistant',
          content: [],
          model: 'claude-opus-4-1-20250805',
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: 472,
            cache_creation_input_tokens: 100,
            cache_read_input_tokens: 2000,
            cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 0 },
            output_tokens: 2,
            service_tier: 'standard',
          },
        },
      },
    ],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', '{"type": "ping"}'],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Counting: "usage": {"output_tokens": 77}' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' and {"message_delta"} done.' } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: delta }],
    ['message_stop', { type: 'message_stop' }],
  ])
}

// ---- OpenAI Chat Completions -----------------------------------------------------------------

// OpenAI pretty-prints its JSON answers.
const openaiChatJson = JSON.stringify(
  {
    id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
    object: 'chat.completion',
    created: 1741570283,
    model: 'gpt-4o-2024-08-06',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'The image shows a wooden boardwalk.', refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 1117,
      completion_tokens: 46,
      total_tokens: 1163,
      prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fc9f1d7035',
  },
  null,
  2,
)

function openaiChatStream(includeUsage: boolean): string {
  const base = { id: 'chatcmpl-7ZZfy4yd1Rv5Rr1kDdVDc5i7X6Aa1', object: 'chat.completion.chunk', created: 1694268190, model: 'gpt-4o-mini-2024-07-18', service_tier: 'default', system_fingerprint: 'fp_44709d6fcb' }
  const chunk = (delta: object, finish: string | null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}), obfuscation: 'a1b2' })
  const events: Array<[null, unknown]> = [
    [null, chunk({ role: 'assistant', content: '', refusal: null }, null)],
    [null, chunk({ content: 'Hello' }, null)],
    [null, chunk({ content: ' "usage":{"prompt_tokens":1}' }, null)],
    [null, chunk({}, 'stop')],
  ]
  if (includeUsage) {
    events.push([
      null,
      {
        ...base,
        choices: [],
        usage: {
          prompt_tokens: 9,
          completion_tokens: 12,
          total_tokens: 21,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        obfuscation: 'x9',
      },
    ])
  }
  events.push([null, '[DONE]'])
  return sse(events)
}

// ---- OpenAI Responses ------------------------------------------------------------------------

function responsesObject(status: string, output: unknown[], u: unknown) {
  return {
    id: 'resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b',
    object: 'response',
    created_at: 1741476542,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: 'You are a helpful assistant.',
    max_output_tokens: null,
    model: 'gpt-4.1-2025-04-14',
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1.0,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1.0,
    truncation: 'disabled',
    usage: u,
    user: null,
    metadata: { usage: 'a metadata key named usage' },
  }
}

const responsesUsage = { input_tokens: 36, input_tokens_details: { cached_tokens: 12 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 }

function responsesStream(outputText: string): string {
  const item = { id: 'msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: outputText, annotations: [] }] }
  const events: Array<[string, unknown]> = [
    ['response.created', { type: 'response.created', sequence_number: 0, response: responsesObject('in_progress', [], null) }],
    ['response.in_progress', { type: 'response.in_progress', sequence_number: 1, response: responsesObject('in_progress', [], null) }],
    ['response.output_item.added', { type: 'response.output_item.added', sequence_number: 2, output_index: 0, item: { ...item, status: 'in_progress', content: [] } }],
    ['response.content_part.added', { type: 'response.content_part.added', sequence_number: 3, item_id: item.id, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }],
  ]
  let seq = 4
  for (let i = 0; i < outputText.length; i += 4096) {
    events.push(['response.output_text.delta', { type: 'response.output_text.delta', sequence_number: seq++, item_id: item.id, output_index: 0, content_index: 0, delta: outputText.slice(i, i + 4096) }])
  }
  events.push(
    ['response.output_text.done', { type: 'response.output_text.done', sequence_number: seq++, item_id: item.id, output_index: 0, content_index: 0, text: outputText }],
    ['response.output_item.done', { type: 'response.output_item.done', sequence_number: seq++, output_index: 0, item }],
    ['response.completed', { type: 'response.completed', sequence_number: seq++, response: responsesObject('completed', [item], responsesUsage) }],
  )
  return sse(events)
}

// ---- Gemini ----------------------------------------------------------------------------------

// Gemini writes `": "` and `", "` in its stream, CRLF line endings, and pretty-prints its JSON.
function geminiChunk(textOut: string, meta: Record<string, unknown>, finish?: string): string {
  const candidate = `{"content": {"parts": [{"text": ${JSON.stringify(textOut)}}],"role": "model"}${finish ? `,"finishReason": "${finish}"` : ''},"index": 0}`
  return `{"candidates": [${candidate}],"usageMetadata": ${JSON.stringify(meta).replace(/":/g, '": ')},"modelVersion": "gemini-2.5-flash","responseId": "mQ9JaPW8JNXuz7IPo4mD8A4"}`
}

const geminiFinal = { promptTokenCount: 8, candidatesTokenCount: 12, totalTokenCount: 31, cachedContentTokenCount: 4, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 8 }], thoughtsTokenCount: 11 }

const geminiSse =
  [
    geminiChunk('The', { promptTokenCount: 8, totalTokenCount: 8, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 8 }] }),
    geminiChunk(' sky is blue', { promptTokenCount: 8, candidatesTokenCount: 5, totalTokenCount: 13 }),
    geminiChunk('.', geminiFinal, 'STOP'),
  ]
    .map((c) => `data: ${c}\r\n\r\n`)
    .join('')

const geminiJson = JSON.stringify(
  {
    candidates: [{ content: { parts: [{ text: 'The sky is blue.' }], role: 'model' }, finishReason: 'STOP', avgLogprobs: -0.12 }],
    usageMetadata: geminiFinal,
    modelVersion: 'gemini-2.5-flash',
    responseId: 'mQ9JaPW8JNXuz7IPo4mD8A4',
  },
  null,
  2,
)

// streamGenerateContent without alt=sse: one JSON array, sent as it is produced.
const geminiJsonArray = `[${[
  geminiChunk('The', { promptTokenCount: 8, totalTokenCount: 8 }),
  geminiChunk('.', geminiFinal, 'STOP'),
].join(',\r\n')}]`

export const USAGE_CASES: UsageCase[] = [
  {
    name: 'Anthropic Messages JSON',
    type: 'anthropic',
    path: '/v1/messages',
    contentType: 'application/json',
    body: JSON.stringify(anthropicJson),
    model: 'claude-sonnet-4-5-20250929',
    usage: usage(2095, 503, 4096, 1024),
  },
  {
    name: 'Anthropic Messages stream (message_delta with output tokens only)',
    type: 'anthropic',
    path: '/v1/messages',
    contentType: 'text/event-stream; charset=utf-8',
    body: anthropicStream({ output_tokens: 89 }),
    model: 'claude-opus-4-1-20250805',
    usage: usage(472, 89, 2000, 100),
  },
  {
    name: 'Anthropic Messages stream (message_delta repeating input and cache counts)',
    type: 'anthropic',
    path: '/v1/messages',
    contentType: 'text/event-stream',
    body: anthropicStream({ input_tokens: 480, cache_creation_input_tokens: 0, cache_read_input_tokens: 2100, output_tokens: 90 }),
    model: 'claude-opus-4-1-20250805',
    usage: usage(480, 90, 2100, 0),
  },
  {
    name: 'OpenAI Chat Completions JSON',
    type: 'openai',
    path: '/v1/chat/completions',
    contentType: 'application/json',
    body: openaiChatJson,
    model: 'gpt-4o-2024-08-06',
    usage: usage(1117, 46, 1024, null),
  },
  {
    name: 'OpenAI Chat Completions stream with include_usage',
    type: 'openai',
    path: '/v1/chat/completions',
    contentType: 'text/event-stream; charset=utf-8',
    body: openaiChatStream(true),
    model: 'gpt-4o-mini-2024-07-18',
    usage: usage(9, 12, 0, null),
  },
  {
    name: 'OpenAI Chat Completions stream without include_usage',
    type: 'openai',
    path: '/v1/chat/completions',
    contentType: 'text/event-stream; charset=utf-8',
    body: openaiChatStream(false),
    model: 'gpt-4o-mini-2024-07-18',
    usage: null,
  },
  {
    name: 'Azure OpenAI Chat Completions JSON',
    type: 'azure',
    path: '/openai/deployments/gpt-4o-prod/chat/completions',
    contentType: 'application/json',
    body: openaiChatJson,
    model: 'gpt-4o-2024-08-06',
    usage: usage(1117, 46, 1024, null),
  },
  {
    name: 'OpenAI Responses JSON',
    type: 'openai',
    path: '/v1/responses',
    contentType: 'application/json',
    body: JSON.stringify(
      responsesObject('completed', [{ id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hi', annotations: [] }] }], responsesUsage),
      null,
      2,
    ),
    model: 'gpt-4.1-2025-04-14',
    usage: usage(36, 87, 12, null),
  },
  {
    name: 'OpenAI Responses stream',
    type: 'openai',
    path: '/v1/responses',
    contentType: 'text/event-stream; charset=utf-8',
    body: responsesStream('In a quiet valley, a small river ran.'),
    model: 'gpt-4.1-2025-04-14',
    usage: usage(36, 87, 12, null),
  },
  {
    name: 'OpenAI Responses stream whose response.completed line is larger than the capture',
    type: 'openai',
    path: '/v1/responses',
    contentType: 'text/event-stream',
    body: responsesStream('word '.repeat(60_000)),
    model: 'gpt-4.1-2025-04-14',
    usage: usage(36, 87, 12, null),
  },
  {
    name: 'Gemini generateContent JSON',
    type: 'gemini',
    path: '/v1beta/models/gemini-2.5-flash:generateContent',
    contentType: 'application/json; charset=UTF-8',
    body: geminiJson,
    model: 'gemini-2.5-flash',
    usage: usage(8, 12, 4, null),
  },
  {
    name: 'Gemini streamGenerateContent SSE (CRLF)',
    type: 'gemini',
    path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent',
    contentType: 'text/event-stream',
    body: geminiSse,
    model: 'gemini-2.5-flash',
    usage: usage(8, 12, 4, null),
  },
  {
    name: 'Gemini streamGenerateContent JSON array',
    type: 'gemini',
    path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent',
    contentType: 'application/json; charset=UTF-8',
    body: geminiJsonArray,
    model: 'gemini-2.5-flash',
    usage: usage(8, 12, 4, null),
  },
  {
    name: 'OpenAI embeddings JSON',
    type: 'openai',
    path: '/v1/embeddings',
    contentType: 'application/json',
    body: JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.0023064255, -0.009327292] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } }),
    model: 'text-embedding-3-small',
    usage: usage(8, null, null, null),
  },
]
